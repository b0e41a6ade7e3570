import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

// History mode: the server answers index.html for these paths (server/http/dashboard.ts).
// Chat ids in URLs are the chat's UUID (the API accepts a UUID or a global id wherever it takes one).
export const routes: RouteRecordRaw[] = [
  { path: "/", name: "chats", component: () => import("./views/ChatsView.vue"), meta: { title: "Chats", section: "chats" } },
  { path: "/chats/:id", name: "chat", component: () => import("./views/ChatView.vue"), meta: { title: "Chat", section: "chats" } },
  { path: "/chats/:id/events", name: "chat-events", component: () => import("./views/EventsView.vue"), meta: { title: "Events", section: "events" } },
  { path: "/events", name: "events", component: () => import("./views/ActivityView.vue"), meta: { title: "Events", section: "events" } },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("./views/NotFoundView.vue"), meta: { title: "Not found" } },
];

declare module "vue-router" {
  interface RouteMeta {
    title?: string;
    /** Which nav item is current. */
    section?: "chats" | "events";
  }
}

export function createAppRouter(history = createWebHistory()) {
  const router = createRouter({ history, routes });
  router.afterEach((to) => {
    if (typeof document !== "undefined") document.title = to.meta.title ? `${to.meta.title} · Tracedeck` : "Tracedeck";
  });
  return router;
}
