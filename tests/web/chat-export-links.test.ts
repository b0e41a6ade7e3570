// The chat view's Export control (happy-dom): two real download links to the export endpoint, one
// per format, named for screen readers with their visible text, the chat id percent-encoded.
import { mount } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import ChatExportLinks from "../../web/src/components/ChatExportLinks.vue";

afterEach(() => {
  document.body.innerHTML = "";
});

describe("ChatExportLinks", () => {
  it("offers JSON Lines and OTLP JSON as downloads of /api/chats/:id/export", () => {
    const w = mount(ChatExportLinks, { props: { chatId: "0190f0a1-7b2c-7d3e-8f40-5a6b7c8d9e0f" }, attachTo: document.body });
    const group = w.get('[role="group"]');
    expect(document.getElementById(group.attributes("aria-labelledby")!)?.textContent).toBe("Export");
    const links = w.findAll("a");
    expect(links.map((a) => [a.text(), a.attributes("href")])).toEqual([
      ["JSON Lines", "/api/chats/0190f0a1-7b2c-7d3e-8f40-5a6b7c8d9e0f/export?format=jsonl"],
      ["OTLP JSON", "/api/chats/0190f0a1-7b2c-7d3e-8f40-5a6b7c8d9e0f/export?format=otlp"],
    ]);
    for (const a of links) {
      expect(a.attributes("download")).toBeDefined();
      // The accessible name holds the visible text (WCAG 2.5.3) and says what the download is.
      expect(a.attributes("aria-label")).toContain(a.text());
      expect(a.attributes("aria-label")).toMatch(/^Download this chat as /);
      expect(a.element.tagName).toBe("A");
    }
  });

  it("percent-encodes a global id and follows a change of chat", async () => {
    const w = mount(ChatExportLinks, { props: { chatId: "Q2hhdDox/+=" } });
    expect(w.get('[data-format="otlp"]').attributes("href")).toBe("/api/chats/Q2hhdDox%2F%2B%3D/export?format=otlp");
    await w.setProps({ chatId: "0190f0a1-7b2c-7d3e-8f40-000000000001" });
    expect(w.get('[data-format="jsonl"]').attributes("href")).toBe("/api/chats/0190f0a1-7b2c-7d3e-8f40-000000000001/export?format=jsonl");
  });
});
