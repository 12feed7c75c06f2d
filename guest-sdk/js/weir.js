// weir-sdk-js: the Weir contract (guest-sdk/wit/weir.wit) over a plain ES module.
//
// A module exports `map(record)` and `reduce(a, b)` (and optionally `finish(window, key,
// value)`), or `transform(record)`:
//
//     export function map(record) {
//       return record.text().split(/\s+/).filter(Boolean).map((word) => [word.toLowerCase(), 1]);
//     }
//     export function reduce(a, b) {
//       return a + b;
//     }
//
// `weir build` generates the component's entry, which hands the module to `processor` below:
//
//     import { log } from "weir:processor/log@0.1.0";
//     import * as app from "../../../word_count.js";
//     import { processor as weir } from "./weir.js";
//     export const processor = weir(app, { log, module: "word_count.js" });
//
// This file imports nothing, so its unit tests (and a module's own) run under plain Node.js.
//
// - `map` returns (or yields) `[key, value]` pairs, or `{ key, value, timestamp }` to give a pair
//   its own event time (ms since the epoch). A thrown error sends that record to the dead
//   letters with its message; the stream goes on.
// - `reduce` folds two values into one of the same kind; it must be associative.
// - `finish` returns the output record: a string, a Uint8Array, or `{ key, value }` of those.
//   The default writes `{"window_start":ms,"window_end":ms,"key":key,"value":value}`.
// - `transform` returns (or yields) output records, one, or null to drop the record.
// - Keys and values cross the sandbox boundary as canonical JSON (object keys sorted).
// - `console.debug/info/log/warn/error` go to the host's logs.

export const SDK = "weir-sdk-js/0.1.0";

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const EMPTY = new Uint8Array(0);
const S64_MIN = -(2n ** 63n);
const S64_MAX = 2n ** 63n - 1n;

/** One input record, as `map` and `transform` see it. */
export class Record {
  #wit;

  /** Wraps the contract's `input-record` (or any object with the same fields). */
  constructor(wit) {
    this.#wit = wit;
  }

  /** The value's bytes (empty for a record without a value). */
  get value() {
    return this.#wit.value ?? EMPTY;
  }

  /** The key's bytes, or null. */
  get key() {
    return this.#wit.key ?? null;
  }

  /** Milliseconds since the Unix epoch. */
  get timestamp() {
    return Number(this.#wit.timestamp ?? 0);
  }

  /** The input partition the record was read from. */
  get partition() {
    return this.#wit.partition ?? 0;
  }

  /** The record's offset in its input partition. */
  get offset() {
    return Number(this.#wit.offset ?? 0);
  }

  /** All headers, in order, as `[name, Uint8Array]` pairs. */
  get headers() {
    return (this.#wit.headers ?? []).map((h) => [h.key, h.value]);
  }

  /** The value of the first header called `name`, or null. */
  header(name) {
    const found = (this.#wit.headers ?? []).find((h) => h.key === name);
    return found ? found.value : null;
  }

  /** The value as UTF-8 text; throws when it is not. */
  text() {
    try {
      return utf8.decode(this.value);
    } catch {
      throw new Error("record value is not UTF-8 text");
    }
  }

  /** The value parsed as JSON; throws when it is not JSON. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw new Error(`record value is not JSON: ${e.message}`);
    }
  }
}

/** A growable byte buffer that strings are UTF-8 encoded into. */
class Bytes {
  constructor() {
    this.buf = new Uint8Array(1 << 12);
    this.len = 0;
  }

  #reserve(extra) {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** Appends `text` as UTF-8; returns the number of bytes written. */
  text(text) {
    for (;;) {
      const { read, written } = encoder.encodeInto(text, this.buf.subarray(this.len));
      if (read === text.length) {
        this.len += written;
        return written;
      }
      this.#reserve(text.length * 3);
    }
  }

  /** Appends raw bytes; returns their number. */
  raw(bytes) {
    this.#reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return bytes.length;
  }

  bytes() {
    return this.buf.subarray(0, this.len);
  }
}

function canonicalReplacer(_key, value) {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`${value} is not a JSON number`);
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const sorted = {};
    for (const k of Object.keys(value).sort()) sorted[k] = value[k];
    return sorted;
  }
  return value;
}

/** `value` as canonical JSON text: sorted object keys, no NaN or Infinity. */
export function canonicalJson(value, what = "a value") {
  let text;
  try {
    text = JSON.stringify(value, canonicalReplacer);
  } catch (e) {
    throw new TypeError(`${what} ${short(value)} cannot cross to the host: ${e.message}`);
  }
  if (text === undefined) {
    throw new TypeError(
      `${what} ${short(value)} cannot cross to the host: keys and values must be JSON values ` +
        "(string, number, boolean, null, arrays and plain objects)",
    );
  }
  return text;
}

function printable(value) {
  if (typeof value === "string") return value;
  try {
    const json = value !== null && typeof value === "object" && !(value instanceof Uint8Array) ? JSON.stringify(value) : undefined;
    return json ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function short(value) {
  const text = typeof value === "string" ? JSON.stringify(value) : printable(value);
  return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
}

function kindOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a Uint8Array";
  return `a ${typeof value}`;
}

/** The dead-letter message for an error thrown by the module's code. */
export function describeError(error, moduleName) {
  if (!(error instanceof Error)) return `thrown: ${short(error)}`;
  const text = error.constructor === Error ? error.message : `${error.name}: ${error.message}`;
  const where = authorFrame(error, moduleName);
  return where && error.constructor !== Error ? `${text} (at ${where})` : text;
}

function authorFrame(error, moduleName) {
  for (const line of String(error.stack ?? "").split("\n")) {
    // SpiderMonkey: `fn@file:line:col`; V8: `    at fn (file:line:col)`.
    if (line.includes("weir.js")) continue;
    const match = /([^/@( ]+:\d+):\d+\)?$/.exec(line.trim());
    if (match && (!moduleName || line.includes(moduleName.split("/").pop()))) return match[1];
  }
  return null;
}

function timestampOf(ts, role) {
  if (ts === undefined || ts === null) return undefined;
  const big = typeof ts === "bigint" ? ts : Number.isInteger(ts) ? BigInt(ts) : null;
  if (big === null || big < S64_MIN || big > S64_MAX) {
    throw new TypeError(`${role}() gave the timestamp ${short(ts)}: it must be an integer, ms since the Unix epoch`);
  }
  return big;
}

function iterate(result, role, shape) {
  if (typeof result === "string" || result instanceof Uint8Array || typeof result?.[Symbol.iterator] !== "function") {
    throw new TypeError(`${role}() returned ${kindOf(result)} (${short(result)}): return an array of ${shape}, or null for none`);
  }
  return result;
}

function checkFold(result, a, b) {
  if (result === undefined) {
    throw new TypeError(`reduce() returned undefined for ${short(a)} and ${short(b)}: did you forget \`return\`?`);
  }
  const same = (x, y) => (x === null ? y === null : Array.isArray(x) ? Array.isArray(y) : typeof x === typeof y && y !== null);
  if (!same(result, a) && !same(result, b)) {
    throw new TypeError(
      `reduce() returned ${kindOf(result)} from ${kindOf(a)} and ${kindOf(b)}: it must return the same kind ` +
        "of value it folds (its result is folded again with the next value)",
    );
  }
}

function outputBytes(data, what, role) {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`${role}() gave ${what} ${kindOf(data)}: use a string (JSON.stringify(obj) for JSON) or a Uint8Array`);
}

function asOutput(result, role) {
  if (typeof result === "string" || result instanceof Uint8Array) {
    return { key: null, value: outputBytes(result, "a value", role), timestamp: undefined };
  }
  if (result !== null && typeof result === "object" && "value" in result) {
    return {
      key: result.key === undefined || result.key === null ? null : outputBytes(result.key, "a key", role),
      value: outputBytes(result.value, "a value", role),
      timestamp: timestampOf(result.timestamp, role),
    };
  }
  throw new TypeError(`${role}() gave ${kindOf(result)} (${short(result)}): return a string, a Uint8Array or { key, value }`);
}

/** Which kind of module `app` is, or a TypeError naming what is missing. */
export function moduleKind(app, moduleName = "the module") {
  const fn = (name) => typeof app[name] === "function";
  if (fn("transform")) {
    const extra = ["map", "reduce", "finish"].filter(fn);
    if (extra.length) {
      throw new TypeError(`${moduleName} exports transform and also ${extra.join(", ")}: a module is a transform or a map/reduce, not both`);
    }
    return "transform";
  }
  if (!fn("map")) {
    throw new TypeError(
      `${moduleName} exports no map function: export function map(record) { ... } and ` +
        "export function reduce(a, b) { ... } (or transform(record))",
    );
  }
  if (!fn("reduce")) {
    throw new TypeError(`${moduleName} exports map but no reduce: export function reduce(a, b), which folds two values into one`);
  }
  return "map-reduce";
}

/**
 * The contract's `processor` interface over the module `app`.
 *
 * `host.log(level, message)` is the contract's log import (console output goes there when
 * given); `host.module` names the module file in error messages.
 */
export function processor(app, host = {}) {
  const moduleName = host.module ?? "the module";
  const kind = moduleKind(app, moduleName);
  if (host.log) routeConsole(host.log);
  const refuse = (index, error) => ({ index, message: describeError(error, host.module) });

  const describe = () => ({ kind, sdk: SDK });

  function mapBatch(records) {
    const out = new Bytes();
    const pairs = [];
    for (let index = 0; index < records.length; index++) {
      try {
        const result = app.map(new Record(records[index]));
        if (result === null || result === undefined) continue;
        for (const item of iterate(result, "map", "[key, value] pairs")) {
          let key, value, timestamp;
          if (Array.isArray(item) && item.length === 2) {
            [key, value] = item;
          } else if (item !== null && typeof item === "object" && !Array.isArray(item) && "key" in item && "value" in item) {
            ({ key, value } = item);
            timestamp = timestampOf(item.timestamp, "map");
          } else {
            throw new TypeError(`map() gave ${kindOf(item)} (${short(item)}), not a [key, value] pair (or { key, value, timestamp })`);
          }
          const keyLen = out.text(canonicalJson(key, "the key"));
          const valueLen = out.text(canonicalJson(value, "the value"));
          pairs.push({ source: index, keyLen, valueLen, timestamp });
        }
      } catch (e) {
        throw refuse(index, e);
      }
    }
    return { data: out.bytes(), pairs };
  }

  function reduceBatch(input) {
    const { data, lengths, groups } = input;
    const out = new Bytes();
    const outLengths = [];
    let pos = 0;
    let next = 0;
    for (let group = 0; group < groups.length; group++) {
      const count = groups[group];
      try {
        if (count === 0) throw new Error("an empty reduce group");
        if (next + count > lengths.length) throw new Error("a reduce group runs past the values");
        const first = data.subarray(pos, pos + lengths[next]);
        pos += lengths[next++];
        if (count === 1) {
          // Canonical JSON in, the same bytes out: nothing to fold.
          outLengths.push(out.raw(first));
          continue;
        }
        let acc = JSON.parse(utf8.decode(first));
        for (let i = 1; i < count; i++) {
          const value = JSON.parse(utf8.decode(data.subarray(pos, pos + lengths[next])));
          pos += lengths[next++];
          const folded = app.reduce(acc, value);
          checkFold(folded, acc, value);
          acc = folded;
        }
        outLengths.push(out.text(canonicalJson(acc, "the result of reduce()")));
      } catch (e) {
        throw refuse(group, e);
      }
    }
    return { data: out.bytes(), lengths: outLengths };
  }

  function finishBatch(input) {
    const { data, entries } = input;
    const out = new Bytes();
    const outEntries = [];
    let pos = 0;
    for (let index = 0; index < entries.length; index++) {
      const { window, keyLen, accLen } = entries[index];
      try {
        if (pos + keyLen + accLen > data.length) throw new Error("a finish entry runs past the data");
        const key = data.subarray(pos, pos + keyLen);
        const acc = data.subarray(pos + keyLen, pos + keyLen + accLen);
        pos += keyLen + accLen;
        if (typeof app.finish !== "function") {
          // The default output, spliced from the canonical JSON the host kept: the bytes the
          // Rust SDK's Output::window_json writes.
          const head = `{"window_start":${window.start},"window_end":${window.end},"key":`;
          const k = out.text(head) + out.raw(key) + out.text("}");
          const v = out.text(head) + out.raw(key) + out.text(',"value":') + out.raw(acc) + out.text("}");
          outEntries.push({ keyLen: k, valueLen: v });
          continue;
        }
        const result = app.finish(
          { start: Number(window.start), end: Number(window.end) },
          JSON.parse(utf8.decode(key)),
          JSON.parse(utf8.decode(acc)),
        );
        const output = asOutput(result, "finish");
        const k = output.key === null ? undefined : out.raw(output.key);
        outEntries.push({ keyLen: k, valueLen: out.raw(output.value) });
      } catch (e) {
        throw refuse(index, e);
      }
    }
    return { data: out.bytes(), entries: outEntries };
  }

  function transformBatch(records) {
    const out = new Bytes();
    const pairs = [];
    for (let index = 0; index < records.length; index++) {
      try {
        let result = app.transform(new Record(records[index]));
        if (result === null || result === undefined) continue;
        if (typeof result === "string" || result instanceof Uint8Array || !(Symbol.iterator in Object(result))) {
          result = [result];
        }
        for (const item of result) {
          const output = asOutput(item, "transform");
          const keyLen = output.key === null ? 0 : out.raw(output.key);
          const valueLen = out.raw(output.value);
          pairs.push({ source: index, keyLen, valueLen, timestamp: output.timestamp });
        }
      } catch (e) {
        throw refuse(index, e);
      }
    }
    return { data: out.bytes(), pairs };
  }

  const noReduce = () => {
    throw { index: 0, message: "a transform module has no reduce or finish" };
  };

  return kind === "transform"
    ? { describe, mapBatch: transformBatch, reduceBatch: noReduce, finishBatch: noReduce }
    : { describe, mapBatch, reduceBatch, finishBatch };
}

/** Sends `console` output to the host's logs instead of the captured stdout. */
function routeConsole(log) {
  const send = (level) => (...args) => {
    try {
      log(level, args.map(printable).join(" "));
    } catch {
      // A log that cannot be delivered is dropped, never an error of the record.
    }
  };
  globalThis.console.debug = send("debug");
  globalThis.console.info = send("info");
  globalThis.console.log = send("info");
  globalThis.console.warn = send("warn");
  globalThis.console.error = send("error");
}
