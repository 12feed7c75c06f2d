// Small DOM helpers: build elements without innerHTML (every text from the API is set as text,
// never parsed as markup), and format numbers and times.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("td", {class: "num"}, "12"). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** A number with thousands separators; "—" when unknown. */
export function num(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return "—";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A rate per second, "—" when not known yet. */
export function rate(value) {
  if (value === undefined || value === null) return "—";
  return value >= 100 ? num(value, 0) : num(value, 1);
}

/** Bytes as KiB/MiB. */
export function bytes(n) {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${num(n, i ? 1 : 0)} ${units[i]}`;
}

/** How long ago an RFC 3339 time was, e.g. "12 s ago". */
export function ago(time) {
  if (!time) return "—";
  const seconds = Math.round((Date.now() - Date.parse(time)) / 1000);
  if (Number.isNaN(seconds)) return time;
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** An RFC 3339 time as a <time> element showing the local time. */
export function time(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return h("time", { datetime: value, title: value }, date.toLocaleTimeString());
}

/** A state badge. */
export function badge(state) {
  return h("span", { class: `state ${state}` }, state);
}

/** A table with a caption and headers; rows are arrays of cells (strings, nodes or
 *  {value, num: true}); on narrow screens each row becomes a card labelled by its headers. */
export function table(caption, headers, rows, empty = "None.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  const head = h("tr", {}, headers.map((label) => h("th", { scope: "col", class: label.endsWith("/s") || label.endsWith("/min") ? "num" : null }, label)));
  const body = rows.map((row) => h("tr", {}, row.map((cell, i) => {
    const isNum = cell && typeof cell === "object" && !(cell instanceof Node) && "num" in cell;
    return h("td", { "data-label": headers[i], class: isNum ? "num" : null }, isNum ? cell.num : cell);
  })));
  return h("div", { class: "table-wrap" },
    h("table", { class: "cards" }, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)));
}

/** Replaces the children of `element`. */
export function replace(element, ...children) {
  element.replaceChildren();
  build(element, {}, children);
}
