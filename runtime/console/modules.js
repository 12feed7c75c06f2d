// The Modules page: every module with its id, size, language (from its producers sections) and
// the SDK it names, world version and the jobs that use it; upload by drag and drop or the file picker, with the API's
// validation error shown as it comes (`not_wasm`, `wrong_world`...).
import { h, replace, bytes, time, table } from "./dom.js";
import { get, post, ApiError } from "./api.js";

export function mount(root, _params, ctx) {
  const body = h("div", {});
  const result = h("div", { id: "upload-result", role: "status", "aria-live": "polite" });
  const file = h("input", { type: "file", id: "module-file", accept: ".wasm,application/wasm", class: "visually-hidden" });
  const name = h("input", { type: "text", id: "module-name", placeholder: "e.g. word-count", pattern: "[A-Za-z0-9._\\-]{1,128}" });
  const chosen = h("span", { class: "muted", id: "module-chosen" }, "no file chosen");
  let picked = null;
  const pick = (f) => {
    picked = f || null;
    chosen.textContent = picked ? `${picked.name} (${bytes(picked.size)})` : "no file chosen";
    if (picked && !name.value) name.value = picked.name.replace(/\.wasm$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
  };
  file.addEventListener("change", () => pick(file.files[0]));
  const drop = h("div", { class: "drop", id: "drop" },
    h("p", {}, "Drop a ", h("code", {}, ".wasm"), " component here, or ",
      h("label", { for: "module-file" }, h("strong", {}, "choose a file")), " ", file),
    h("p", {}, chosen));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pick(e.dataTransfer.files[0]);
  });
  const form = h("form", { class: "card", id: "upload-form", "aria-labelledby": "h-upload" },
    h("h2", { id: "h-upload" }, "Upload a module"), drop,
    h("p", {}, h("label", { for: "module-name" }, "Name "), name, " ",
      h("button", { type: "submit", id: "upload" }, "Upload")),
    result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!picked) { replace(result, h("p", { class: "banner error" }, "Choose or drop a file first.")); return; }
    replace(result, h("p", { class: "muted" }, `Uploading and validating ${picked.name}…`));
    const query = name.value ? `?name=${encodeURIComponent(name.value)}` : "";
    try {
      const module = await post(`/v1/modules${query}`, picked, "application/wasm");
      replace(result, h("p", { class: "banner ok" }, `Accepted: ${module.name || ""} ${module.id.slice(0, 12)} (${module.kind}, ${[module.language, module.sdk].filter(Boolean).join(", ")}).`));
      ctx.say("ok", `Module ${module.name || module.id.slice(0, 12)} uploaded.`);
    } catch (err) {
      const text = err instanceof ApiError ? ctx.explain(`Upload of ${picked.name}`, err) : [`Upload failed: ${err}`];
      replace(result, h("p", { class: "banner error", role: "alert" }, ...text));
    }
  });
  replace(root, h("h1", {}, "Modules"), body, form);
  return {
    async refresh() {
      const { modules } = await get("/v1/modules");
      const rows = modules.map((m) => [
        m.name || h("span", { class: "muted" }, "unnamed"),
        h("code", { title: m.id }, m.id.slice(0, 12)),
        { num: bytes(m.size) },
        h("span", { title: (m.processed_by || []).join("\n") || null }, m.language || h("span", { class: "muted" }, "unknown"),
          m.sdk ? h("div", { class: "muted" }, m.sdk) : ""),
        `${m.world}${m.kind ? ` (${m.kind})` : ""}`,
        time(m.uploaded_at),
        m.used_by.length ? m.used_by.map((j, i) => [i ? ", " : "", h("a", { href: `#/jobs/${encodeURIComponent(j)}` }, j)]) : h("span", { class: "muted" }, "none"),
      ]);
      replace(body, table(`${modules.length} module${modules.length === 1 ? "" : "s"}`,
        ["Name", "Id", "Size", "Language / SDK", "World", "Uploaded", "Jobs"], rows, "No module yet."));
    },
  };
}
