// Charts in plain SVG: a sparkline, a line chart with axes, and a job's data path.
import { s, h, num } from "./dom.js";

/** A sparkline of `points` ({t, v}), labelled for screen readers by `label`. */
export function sparkline(points, label) {
  const width = 120, height = 28;
  const svg = s("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  if (points.length < 2) return svg;
  const max = Math.max(1, ...points.map((p) => p.v));
  const t0 = points[0].t, span = Math.max(1, points[points.length - 1].t - t0);
  const xy = points.map((p) => `${((p.t - t0) / span * (width - 2) + 1).toFixed(1)},${(height - 2 - p.v / max * (height - 4)).toFixed(1)}`);
  svg.append(s("polyline", { class: "s1", points: xy.join(" ") }));
  return svg;
}

/** A line chart of several series ({name, points}) sharing axes, with a legend. */
export function lineChart(title, series, unit) {
  const width = 600, height = 180, left = 56, bottom = 22, top = 8, right = 8;
  const all = series.flatMap((x) => x.points);
  const latest = series.map((x) => `${x.name} ${num(x.points.length ? x.points[x.points.length - 1].v : null, 1)}`).join(", ");
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none",
    role: "img", "aria-label": `${title}: ${all.length ? `latest ${latest} ${unit}` : "no data yet"}` });
  const max = Math.max(1, ...all.map((p) => p.v));
  const t0 = Math.min(...all.map((p) => p.t)), t1 = Math.max(...all.map((p) => p.t));
  const span = Math.max(1, t1 - t0);
  const x = (t) => left + (t - t0) / span * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  svg.append(s("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }),
    s("line", { class: "axis", x1: left, y1: top, x2: left, y2: y(0) }),
    s("text", { x: left - 6, y: top + 10, "text-anchor": "end" }, num(max, max < 10 ? 1 : 0)),
    s("text", { x: left - 6, y: y(0), "text-anchor": "end" }, "0"));
  if (all.length) {
    svg.append(s("text", { x: width - right, y: height - 6, "text-anchor": "end" }, "now"),
      s("text", { x: left, y: height - 6 }, `${Math.round(span / 1000)} s ago`));
  }
  series.forEach((line, i) => {
    if (line.points.length > 1) {
      svg.append(s("polyline", { class: `s${i + 1}`, points: line.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ") }));
    }
  });
  const legend = h("div", { class: "legend", "aria-hidden": "true" },
    series.map((line, i) => h("span", {}, h("span", { class: `swatch s${i + 1}` }), line.name)));
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", {}, title), ` (${unit})`), svg, legend);
}

function box(x, y, w, title, lines) {
  const height = 26 + lines.length * 15;
  return {
    height,
    node: s("g", {},
      s("rect", { x, y, width: w, height, rx: 6 }),
      s("text", { x: x + 8, y: y + 18, "font-weight": "600" }, title),
      lines.map((line, i) => s("text", { x: x + 8, y: y + 36 + i * 15 },
        line.length > 30 ? [s("title", {}, line), `${line.slice(0, 29)}…`] : line))),
  };
}

/** A job's data path: inputs → map → repartition → reduce → output, with the partitions each
 *  runtime holds in each stage. */
export function dataPath(job, stages) {
  const runtimes = job.status.runtimes || [];
  const held = (stage) => runtimes.flatMap((r) => (r.stages || []).filter((st) => st.stage === stage && st.assigned.length)
    .map((st) => `${r.runtime}: ${st.assigned.length} (${st.assigned.map((a) => a.split("/").pop()).join(",")})`));
  const spec = job.spec || {};
  const columns = [["inputs", (spec.input || []).map((t) => `topic ${t}`)], ["map", held("map")]];
  if (stages.includes("reduce")) {
    columns.push(["repartition", [`weir.${job.name}.repartition`]], ["reduce", held("reduce")]);
  }
  columns.push(["output", [`topic ${spec.output || "?"}`]]);
  const w = 200, gap = 40;
  const width = columns.length * w + (columns.length - 1) * gap;
  const boxes = columns.map(([title, lines], i) => box(i * (w + gap), 4, w, title, lines.length ? lines : ["(none held)"]));
  const height = Math.max(...boxes.map((b) => b.height)) + 8;
  const text = columns.map(([title, lines]) => `${title}: ${lines.join("; ") || "none held"}`).join(" → ");
  const svg = s("svg", { class: "path", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Data path. ${text}` });
  boxes.forEach((b, i) => {
    svg.append(b.node);
    if (i > 0) {
      const x1 = i * (w + gap) - gap + 2, x2 = i * (w + gap) - 4, y = 20;
      svg.append(s("line", { x1, y1: y, x2, y2: y, "stroke-width": 2 }),
        s("polyline", { points: `${x2 - 6},${y - 5} ${x2},${y} ${x2 - 6},${y + 5}`, class: "s1" }));
    }
  });
  return h("div", { class: "table-wrap" }, svg);
}
