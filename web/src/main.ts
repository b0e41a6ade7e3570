import urql from "@urql/vue";
import { createApp } from "vue";
import App from "./App.vue";
import { ConnectionKey } from "./connection";
import { createAppRouter } from "./router";
import "./styles.css";
import { createTracedeckClient } from "./urql";

const { client, connection } = createTracedeckClient();
const router = createAppRouter();

// A view's chunk that no longer exists (the server was rebuilt while this page was open): load the
// new build, at most once a minute so a real outage does not loop.
function reloadForNewBuild(path?: string): boolean {
  const last = Number(sessionStorage.getItem("tracedeck.reloadedAt") ?? 0);
  if (Date.now() - last < 60_000) return false;
  sessionStorage.setItem("tracedeck.reloadedAt", String(Date.now()));
  if (path) window.location.assign(path);
  else window.location.reload();
  return true;
}
window.addEventListener("vite:preloadError", (event) => {
  if (reloadForNewBuild()) event.preventDefault();
});
router.onError((error: unknown, to) => {
  if (/dynamically imported module|Importing a module script failed|error loading dynamically/i.test(String((error as Error)?.message))) {
    reloadForNewBuild(to.fullPath);
  }
});

createApp(App).use(router).use(urql, client).provide(ConnectionKey, connection).mount("#app");
