// Rates and recent history, computed in the browser from the counters each runtime reports in
// a job's status (records in, out, dead letters: totals since that runtime started the job)
// and its lag per stage. A runtime that restarts starts its counters again from zero: a
// counter that went down counts from zero, as Prometheus' rate() does.

const KEEP_MS = 10 * 60 * 1000;
const RATE_WINDOW_MS = 15 * 1000;
const history = new Map();

function stagesOf(job) {
  return (job.status.runtimes || []).flatMap((r) => (r.stages || []).map((s) => ({ runtime: r.runtime, ...s })));
}

/** The job's stages, in data-path order. */
export function stageNames(job) {
  const names = new Set(stagesOf(job).map((s) => s.stage));
  if (job.spec && job.spec.shuffle !== false && job.spec.window) names.add("map").add("reduce");
  names.add("map");
  return ["map", "reduce"].filter((n) => names.has(n));
}

/** Notes a job's status (from GET /v1/jobs or /v1/jobs/{name}). */
export function observe(job) {
  const now = Date.now();
  let h = history.get(job.name);
  if (!h) { h = { last: new Map(), totals: { in: 0, out: 0, dead: 0 }, samples: [] }; history.set(job.name, h); }
  const previous = h.samples[h.samples.length - 1];
  if (previous && now - previous.t < 1000) return;
  const outStage = stageNames(job).includes("reduce") ? "reduce" : "map";
  const lag = {};
  for (const s of stagesOf(job)) {
    const key = `${s.runtime}|${s.stage}`;
    const counts = { in: s.records_in || 0, out: s.records_out || 0, dead: s.dead_letters || 0 };
    const before = h.last.get(key);
    const delta = (field) => {
      if (!before) return 0;
      return counts[field] >= before[field] ? counts[field] - before[field] : counts[field];
    };
    if (s.stage === "map") h.totals.in += delta("in");
    if (s.stage === outStage) h.totals.out += delta("out");
    h.totals.dead += delta("dead");
    h.last.set(key, counts);
    lag[s.stage] = (lag[s.stage] || 0) + (s.lag || 0);
  }
  if (!Object.keys(lag).length) lag.map = job.status.lag || 0;
  h.samples.push({ t: now, ...h.totals, lag });
  while (h.samples.length > 2 && now - h.samples[0].t > KEEP_MS) h.samples.shift();
}

function perSecond(samples, field, windowMs) {
  if (samples.length < 2) return null;
  const latest = samples[samples.length - 1];
  let first = samples[samples.length - 2];
  for (const sample of samples) {
    if (latest.t - sample.t <= windowMs) { first = sample; break; }
  }
  if (first === latest) first = samples[samples.length - 2];
  const seconds = (latest.t - first.t) / 1000;
  return seconds > 0 ? (latest[field] - first[field]) / seconds : null;
}

/** Dead letters the job's runtimes report since each started it. */
export function deadTotal(job) {
  return stagesOf(job).reduce((sum, st) => sum + (st.dead_letters || 0), 0);
}

/** What the pages show of a job's recent history (rates are unknown, null, while paused). */
export function recent(name, paused = false) {
  const samples = (history.get(name) || { samples: [] }).samples;
  if (paused) {
    const lag = samples.length ? samples[samples.length - 1].lag : {};
    return { inRate: null, outRate: null, deadPerMinute: null, inSeries: [], outSeries: [],
      lag: Object.fromEntries(Object.keys(lag).map((st) => [st, samples.map((x) => ({ t: x.t, v: x.lag[st] || 0 }))])) };
  }
  // Each point is the rate over the RATE_WINDOW_MS before it: statuses are published every
  // few seconds, so the rate between two refreshes alone jumps between 0 and twice the truth.
  const series = (f) => samples.slice(1).map((x, i) => ({ t: x.t, v: perSecond(samples.slice(0, i + 2), f, RATE_WINDOW_MS) || 0 }));
  const stages = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))];
  return {
    inRate: perSecond(samples, "in", RATE_WINDOW_MS),
    outRate: perSecond(samples, "out", RATE_WINDOW_MS),
    deadPerMinute: samples.length < 2 ? null : 60 * perSecond(samples, "dead", 60 * 1000),
    inSeries: series("in"),
    outSeries: series("out"),
    lag: Object.fromEntries(stages.map((st) => [st, samples.map((s) => ({ t: s.t, v: s.lag[st] || 0 }))])),
  };
}
