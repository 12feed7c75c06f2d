// The job detail page: the data path, throughput and lag charts, the window frontier per
// runtime and stage, recent guest logs and dead letters, and the revision history with what
// each revision changed.
import { h, replace, num, time, badge, table, bytes } from "./dom.js";
import { get, post } from "./api.js";
import { observe, recent, stageNames, deadTotal } from "./rates.js";
import { dataPath, lineChart } from "./charts.js";
import { jobActions } from "./actions.js";
import { moduleLabel } from "./jobs.js";

const SLOW_EVERY = 3; // logs and dead letters are read from Kafka: every third refresh

function value(v) {
  return v === undefined ? h("span", { class: "muted" }, "unset") : JSON.stringify(v);
}

function history(job, ctx) {
  const rows = [...(job.history || [])].reverse().map((r) => [
    `${r.revision}${r.revision === job.revision ? " (current)" : ""}`,
    time(r.at),
    h("code", {}, r.module.slice(0, 12)),
    r.changes && r.changes.length
      ? h("ul", {}, r.changes.map((c) => h("li", {}, h("code", {}, c.field), ": ",
        h("span", { class: "diff-from" }, value(c.from)), " → ", h("span", { class: "diff-to" }, value(c.to)))))
      : h("span", { class: "muted" }, r.revision === 1 ? "created" : "no change"),
    r.kept && r.revision !== job.revision && job.source !== "config"
      ? h("button", { type: "button", "data-key": `rollback-to:${r.revision}`,
        onclick: () => ctx.mutate(`Roll back ${job.name} to revision ${r.revision}`,
          () => post(`/v1/jobs/${encodeURIComponent(job.name)}/rollback`, { to_revision: r.revision })) },
        `Roll back to ${r.revision}`)
      : "",
  ]);
  return table("Revisions, newest first", ["Revision", "When", "Module", "Changes", ""], rows, "No revision history (a config-file job).");
}

function frontier(job) {
  const rows = (job.status.runtimes || []).flatMap((r) => (r.stages || []).map((s) => [
    r.runtime, s.stage, time(s.watermark), time(s.last_window_fired_at), { num: num(s.open_windows) },
    { num: num(s.lag) }, s.assigned.join(", ") || "—",
  ]));
  return table(`Window frontier (window ${(job.spec && job.spec.window) || "none: a transform"})`,
    ["Runtime", "Stage", "Watermark", "Last fired", "Open windows", "Lag", "Partitions"], rows,
    job.state === "paused" ? "Paused: no runtime runs it." : "No runtime reports this job yet.");
}

function deadLetters(list) {
  const rows = list.dead_letters.slice().reverse().map((d) => [
    time(d.at), h("code", { class: "code" }, d.reason), d.stage || "—", d.error || "—",
    d.source ? `${d.source.topic}/${d.source.partition}@${d.source.offset}` : "—",
    d.key === null || d.key === undefined ? "—" : h("pre", {}, d.key),
    h("pre", {}, `${d.value || ""}${d.value_truncated ? "…" : ""}`), bytes(d.value_bytes),
  ]);
  return table(`Recent dead letters (topic ${list.topic}), newest first`,
    ["When", "Reason", "Stage", "Error", "Read from", "Key", "Value (head)", "Size"], rows, "No dead letter.");
}

function logs(list) {
  const rows = list.lines.slice().reverse().map((l) => [
    time(l.at), l.level, `${l.stage}/${l.call}`, l.partition === null || l.partition === undefined ? "—" : `${l.partition}${l.offsets ? ` @${l.offsets[0]}–${l.offsets[1]}` : ""}`,
    l.runtime, h("pre", {}, l.dropped ? `${l.message} (${l.dropped} dropped)` : l.message),
  ]);
  return table(`Recent guest logs (topic ${list.topic}), newest first`, ["When", "Level", "Stage", "Partition", "Runtime", "Message"], rows, "No guest log line.");
}

export function mount(root, { name }, ctx) {
  const path = `/v1/jobs/${encodeURIComponent(name)}`;
  const head = h("div", {});
  const parts = {
    path: h("section", { "aria-labelledby": "h-path" }),
    charts: h("div", { class: "grid" }),
    frontier: h("section", {}),
    errors: h("section", {}),
    dead: h("section", { "aria-live": "off" }, h("p", { class: "muted" }, "Reading…")),
    logs: h("section", {}, h("p", { class: "muted" }, "Reading…")),
    history: h("section", {}),
  };
  replace(root, h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")), h("h1", {}, `Job ${name}`), head,
    h("h2", { id: "h-path" }, "Data path"), parts.path,
    h("h2", {}, "Throughput and lag"), parts.charts,
    h("h2", {}, "Windows"), parts.frontier, parts.errors,
    h("h2", { id: "dead-letters" }, "Dead letters"), parts.dead,
    h("h2", {}, "Guest logs"), parts.logs,
    h("h2", {}, "Revision history"), parts.history);
  let round = 0;
  const slow = async (part, url, show) => {
    try { replace(part, show(await get(url))); }
    catch (err) { replace(part, h("p", { class: "banner error" }, ...ctx.explain("Reading", err))); }
  };
  return {
    async refresh() {
      const job = await get(path);
      observe(job);
      const stages = stageNames(job);
      const r = recent(job.name, job.state === "paused");
      const spec = job.spec || {};
      replace(head, h("div", { class: "card" },
        h("dl", { class: "kv" },
          h("dt", {}, "State"), h("dd", {}, badge(job.state)),
          h("dt", {}, "Module"), h("dd", {}, moduleLabel(job), " ", h("code", { class: "muted" }, job.module.id.slice(0, 16))),
          h("dt", {}, "Revision"), h("dd", {}, String(job.revision)),
          h("dt", {}, "Input → output"), h("dd", {}, `${(spec.input || []).join(", ")} → ${spec.output || "?"}`),
          h("dt", {}, "Window"), h("dd", {}, spec.window || "none (transform)"),
          h("dt", {}, "Lag"), h("dd", {}, num(job.status.lag)),
          h("dt", {}, "Dead letters/min"), h("dd", {}, `${r.deadPerMinute === null ? "—" : num(r.deadPerMinute, 1)} (${num(deadTotal(job))} since the runtimes started it)`)),
        jobActions(job, ctx)));
      replace(parts.path, dataPath(job, stages));
      replace(parts.charts,
        lineChart("Throughput", [{ name: "in", points: r.inSeries }, { name: "out", points: r.outSeries }], "records/s"),
        lineChart("Lag per stage", Object.entries(r.lag).map(([stage, points]) => ({ name: stage, points })), "records"));
      replace(parts.frontier, frontier(job));
      const errors = (job.status.runtimes || []).flatMap((x) => (x.errors || []).map((e) => [x.runtime, time(e.at), h("pre", {}, e.message)]));
      replace(parts.errors, errors.length ? table("Recent runtime errors", ["Runtime", "When", "Error"], errors) : "");
      replace(parts.history, history(job, ctx));
      if (round % SLOW_EVERY === 0) {
        await Promise.all([
          slow(parts.dead, `${path}/dead-letters?limit=20`, deadLetters),
          slow(parts.logs, `${path}/logs?limit=20`, logs),
        ]);
      }
      round += 1;
    },
  };
}
