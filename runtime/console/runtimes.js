// The Runtimes page: the runtime that serves this page (GET /v1/runtime), and every runtime
// that reports a job in the pool's status topic, with its jobs, partitions, health (how
// recently it reported) and build version. A runtime that runs no job reports nothing, so
// only the one serving this page can be listed without jobs.
import { h, replace, ago, badge, table } from "./dom.js";
import { get } from "./api.js";

const SILENT_AFTER_S = 30;

export function mount(root) {
  const self = h("div", {});
  const body = h("div", {});
  replace(root, h("h1", {}, "Runtimes"), h("h2", {}, "This runtime"), self, h("h2", {}, "The pool"), body);
  return {
    async refresh() {
      const [info, { jobs }] = await Promise.all([get("/v1/runtime"), get("/v1/jobs")]);
      replace(self, h("div", { class: "card" }, h("dl", { class: "kv" },
        h("dt", {}, "Name"), h("dd", {}, info.runtime),
        h("dt", {}, "Version"), h("dd", {}, info.version),
        h("dt", {}, "Health"), h("dd", {}, badge(info.ready ? "ready" : "unready"), info.registry ? "" : " (has not reached the brokers)"),
        h("dt", {}, "Changes"), h("dd", {}, info.token_required ? "need the API token" : "open (no token configured)"))));
      const byRuntime = new Map();
      for (const job of jobs) {
        for (const r of job.status.runtimes || []) {
          const entry = byRuntime.get(r.runtime) || { runtime: r.runtime, version: r.version, updated: r.updated_at, jobs: [], errors: 0 };
          if (r.updated_at > entry.updated) entry.updated = r.updated_at;
          entry.version = entry.version || r.version;
          const partitions = (r.stages || []).map((s) => `${s.stage}: ${s.assigned.join(", ") || "none"}`).join("; ");
          entry.jobs.push([job.name, r.state, partitions]);
          entry.errors += (r.errors || []).length;
          byRuntime.set(r.runtime, entry);
        }
      }
      if (!byRuntime.has(info.runtime)) {
        byRuntime.set(info.runtime, { runtime: info.runtime, version: info.version, updated: null, jobs: [], errors: 0 });
      }
      const rows = [...byRuntime.values()].sort((a, b) => a.runtime.localeCompare(b.runtime)).map((r) => {
        const age = r.updated ? (Date.now() - Date.parse(r.updated)) / 1000 : null;
        const health = r.runtime === info.runtime ? (info.ready ? "ready" : "unready")
          : age !== null && age < SILENT_AFTER_S ? "reporting" : "silent";
        return [
          h("span", {}, r.runtime, r.runtime === info.runtime ? h("span", { class: "muted" }, " (this one)") : ""),
          badge(health),
          r.version || "—",
          r.updated ? ago(r.updated) : "—",
          r.jobs.length ? h("ul", {}, r.jobs.map(([job, state, partitions]) => h("li", {},
            h("a", { href: `#/jobs/${encodeURIComponent(job)}` }, job), ` ${state} — ${partitions}`))) : h("span", { class: "muted" }, "no job"),
          String(r.errors),
        ];
      });
      replace(body, table(`${rows.length} runtime${rows.length === 1 ? "" : "s"}`,
        ["Runtime", "Health", "Version", "Last report", "Jobs and partitions", "Recent errors"], rows));
    },
  };
}
