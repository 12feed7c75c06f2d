// The Jobs page: every job of the pool with its state, module, throughput, lag per stage,
// watermark, dead letters and where it runs, and the buttons to pause, resume or roll back.
import { h, replace, rate, num, time, badge, table } from "./dom.js";
import { get } from "./api.js";
import { observe, recent, stageNames, deadTotal } from "./rates.js";
import { sparkline } from "./charts.js";
import { jobActions } from "./actions.js";

/** The module as people name it: its name, else the head of its id. */
export function moduleLabel(job) {
  const id = job.module.id || "";
  return job.module.name || (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id);
}

/** The smallest watermark the job's runtimes report for `stage`. */
export function watermark(job, stage) {
  const marks = (job.status.runtimes || []).flatMap((r) => (r.stages || [])
    .filter((s) => s.stage === stage && s.watermark).map((s) => s.watermark));
  return marks.sort()[0];
}

export function mount(root, _params, ctx) {
  const body = h("div", {});
  replace(root, h("h1", {}, "Jobs"), body);
  return {
    async refresh() {
      const { jobs } = await get("/v1/jobs");
      jobs.forEach(observe);
      const rows = jobs.map((job) => {
        const r = recent(job.name, job.state === "paused");
        const stages = stageNames(job);
        const lag = h("div", {}, stages.map((stage) => {
          const points = r.lag[stage] || [];
          const latest = points.length ? points[points.length - 1].v : job.status.lag;
          return h("div", {}, `${stage} ${num(latest)} `, sparkline(points, `${stage} lag over the last minutes, now ${num(latest)}`));
        }));
        const mark = watermark(job, stages[stages.length - 1]) || watermark(job, "map");
        const runtimes = [...new Set((job.status.runtimes || []).filter((x) => (x.stages || []).some((s) => s.assigned.length)).map((x) => x.runtime))];
        return [
          h("a", { href: `#/jobs/${encodeURIComponent(job.name)}`, "data-key": `open:${job.name}` }, job.name),
          badge(job.state),
          h("span", {}, moduleLabel(job), h("span", { class: "muted" }, ` rev ${job.revision}`)),
          { num: rate(r.inRate) },
          { num: rate(r.outRate) },
          lag,
          h("div", {}, h("div", {}, "watermark ", time(mark)), h("div", { class: "muted" }, "fired ", time(job.status.last_window_fired_at))),
          { num: `${r.deadPerMinute === null ? "—" : num(r.deadPerMinute, 1)} (${num(deadTotal(job))} in all)` },
          runtimes.length ? runtimes.join(", ") : h("span", { class: "muted" }, "none"),
          jobActions(job, ctx),
        ];
      });
      replace(body, table(`${jobs.length} job${jobs.length === 1 ? "" : "s"}`,
        ["Job", "State", "Module", "In/s", "Out/s", "Lag per stage", "Windows", "Dead letters/min", "Runtimes", "Actions"],
        rows, "No job yet: create one with `weir job create` or POST /v1/jobs."));
    },
  };
}
