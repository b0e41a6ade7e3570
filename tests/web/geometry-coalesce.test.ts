import { describe, expect, it } from "vitest";
import { coalesce } from "../../web/src/lib/coalesce";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("coalesce", () => {
  it("makes one run of a burst of requests", async () => {
    let runs = 0;
    const c = coalesce(async () => void runs++, 20);
    for (let i = 0; i < 10; i++) c.request();
    await wait(60);
    expect(runs).toBe(1);
  });

  it("runs once more after a run when asked during it, never two at once", async () => {
    let runs = 0;
    let active = 0;
    let most = 0;
    const c = coalesce(async () => {
      runs++;
      most = Math.max(most, ++active);
      await wait(30);
      active--;
    }, 5);
    c.request();
    await wait(15);
    c.request();
    c.request();
    await wait(120);
    expect(runs).toBe(2);
    expect(most).toBe(1);
  });

  it("forgets what was asked when cancelled", async () => {
    let runs = 0;
    const c = coalesce(async () => void runs++, 10);
    c.request();
    c.cancel();
    await wait(40);
    expect(runs).toBe(0);
    await c.flush();
    expect(runs).toBe(1);
  });
});
