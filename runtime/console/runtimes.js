// The Runtimes page: the runtime that serves this page (GET /v1/runtime), and every runtime of
// the pool from the heartbeats they publish (GET /v1/runtimes), running a job or not: its state,
// version, API address, when it started and was last heard from, and the jobs and partitions
// it holds. The API judges the states: `missing` after three heartbeat intervals of silence
// (killed, hung, cut off), `stopped` after a clean stop; either is dropped after 10 minutes.
import { h, replace, ago, badge, table } from "./dom.js";
import { get } from "./api.js";

/** "map: lines/0, lines/1; reduce: weir.wc.repartition/0", or "no partition yet". */
function partitions(job) {
  const held = (job.stages || []).filter((s) => s.assigned.length);
  return held.length ? held.map((s) => `${s.stage}: ${s.assigned.join(", ")}`).join("; ") : "no partition yet";
}

export function mount(root) {
  const self = h("div", {});
  const body = h("div", {});
  replace(root, h("h1", {}, "Runtimes"), h("h2", {}, "This runtime"), self, h("h2", {}, "The pool"), body);
  return {
    async refresh() {
      const [info, { runtimes }] = await Promise.all([get("/v1/runtime"), get("/v1/runtimes")]);
      replace(self, h("div", { class: "card" }, h("dl", { class: "kv" },
        h("dt", {}, "Name"), h("dd", {}, info.runtime),
        h("dt", {}, "Version"), h("dd", {}, info.version),
        h("dt", {}, "Health"), h("dd", {}, badge(info.ready ? "ready" : "unready"), info.registry ? "" : " (has not reached the brokers)"),
        h("dt", {}, "Changes"), h("dd", {}, info.token_required ? "need the API token" : "open (no token configured)"))));
      const rows = runtimes.map((r) => {
        const errors = (r.jobs || []).reduce((sum, j) => sum + (j.errors || 0), 0);
        return [
          h("span", { "data-runtime": r.runtime }, r.runtime, r.this ? h("span", { class: "muted" }, " (this one)") : ""),
          badge(r.state),
          r.version || "—",
          h("span", {}, r.host, r.api ? h("div", { class: "muted" }, r.api) : ""),
          ago(r.started_at),
          ago(r.last_seen),
          r.jobs && r.jobs.length ? h("ul", {}, r.jobs.map((j) => h("li", {},
            h("a", { href: `#/jobs/${encodeURIComponent(j.job)}` }, j.job), ` ${j.state} (rev ${j.revision}) — ${partitions(j)}`)))
            : h("span", { class: "muted" }, "no job"),
          { num: String(errors) },
        ];
      });
      replace(body, table(`${rows.length} runtime${rows.length === 1 ? "" : "s"} heard from in the last 10 minutes`,
        ["Runtime", "State", "Version", "Host and API", "Started", "Last seen", "Jobs and partitions", "Recent errors"], rows,
        "No runtime has published a heartbeat yet."));
    },
  };
}
