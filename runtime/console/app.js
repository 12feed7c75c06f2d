// The console's entry point: hash routing (#/jobs, #/jobs/NAME, #/modules, #/runtimes), the
// refresh loop, the token form and the notices every page shares.
import { h, replace } from "./dom.js";
import { token, setToken, ApiError } from "./api.js";
import * as jobs from "./jobs.js";
import * as job from "./job.js";
import * as modules from "./modules.js";
import * as runtimes from "./runtimes.js";

const REFRESH_MS = 3000;
const main = document.getElementById("main");
const notice = document.getElementById("notice");
let current = null;
let timer = null;

/** Shows a message above the page: `kind` is "ok" or "error". */
export function say(kind, ...text) {
  replace(notice, h("div", { class: `banner ${kind}`, role: kind === "error" ? "alert" : null }, ...text));
}

/** Explains a refused or failed call, with the API's code. */
export function explain(what, err) {
  if (!(err instanceof ApiError)) return [`${what} failed: ${err}`];
  const hint = err.status === 401
    ? (token() ? " The token is not the one this runtime was started with." : " Enter the API token above (this runtime needs one for changes).")
    : "";
  return [`${what} refused: `, h("code", { class: "code" }, err.code), ` — ${err.message}.${hint}`];
}

/** Runs a mutation and reports how it went; returns whether it succeeded. */
export async function mutate(what, action) {
  try {
    await action();
    say("ok", `${what}: done.`);
    refresh();
    return true;
  } catch (err) {
    say("error", ...explain(what, err));
    return false;
  }
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "jobs" && parts[1]) return { page: job, nav: "jobs", params: { name: parts[1] } };
  if (parts[0] === "modules") return { page: modules, nav: "modules", params: {} };
  if (parts[0] === "runtimes") return { page: runtimes, nav: "runtimes", params: {} };
  return { page: jobs, nav: "jobs", params: {} };
}

/** Keeps keyboard focus on the same control across a refresh of the page's data. */
async function keepingFocus(update) {
  const active = document.activeElement;
  const key = active && active.dataset ? active.dataset.key : null;
  await update();
  if (key && !document.contains(active)) {
    const again = main.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

async function refresh() {
  if (!current) return;
  const view = current;
  try {
    await keepingFocus(() => view.refresh());
  } catch (err) {
    if (view === current) view.failed(explain("Reading the API", err));
  }
}

function navigate() {
  const { page, nav, params } = route();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(notice);
  replace(main);
  const root = h("div", {});
  const failure = h("div", { role: "alert" });
  main.append(failure, root);
  const view = page.mount(root, params, { say, mutate, explain });
  current = {
    refresh: async () => { await view.refresh(); replace(failure); },
    failed: (text) => replace(failure, h("div", { class: "banner error" }, ...text)),
  };
  const heading = root.querySelector("h1");
  if (heading) document.title = `${heading.textContent} · Weir console`;
  main.focus({ preventScroll: true });
  refresh();
}

function tokenForm() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = token() ? "token set for this tab" : "read-only"; };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    input.value = "";
    show();
  });
  document.getElementById("token-forget").addEventListener("click", () => { setToken(""); show(); });
  show();
}

tokenForm();
window.addEventListener("hashchange", navigate);
navigate();
timer = setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  clearInterval(timer);
  if (!document.hidden) { refresh(); timer = setInterval(refresh, REFRESH_MS); }
});
