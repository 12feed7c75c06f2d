// Unit tests of the JavaScript SDK under Node.js: `node --test guest-sdk/js/test/`. The
// contract's values are plain objects here, shaped as componentize-js passes them (s64 as
// BigInt, list<u8> as Uint8Array, camelCase fields).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Record, canonicalJson, processor } from "../weir.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

const records = (...values) =>
  values.map((v, i) => ({
    key: undefined,
    value: typeof v === "string" ? enc.encode(v) : v,
    timestamp: BigInt(1000 * i),
    headers: [{ key: "h", value: enc.encode("x") }],
    partition: 0,
    offset: BigInt(i),
  }));

function pairs(emitted) {
  let pos = 0;
  return emitted.pairs.map((p) => {
    const key = dec.decode(emitted.data.subarray(pos, pos + p.keyLen));
    const value = dec.decode(emitted.data.subarray(pos + p.keyLen, pos + p.keyLen + p.valueLen));
    pos += p.keyLen + p.valueLen;
    return [p.source, key, value, p.timestamp];
  });
}

function packed(...groups) {
  const values = groups.flat().map((v) => enc.encode(JSON.stringify(v)));
  const data = new Uint8Array(values.reduce((n, v) => n + v.length, 0));
  let pos = 0;
  for (const v of values) {
    data.set(v, pos);
    pos += v.length;
  }
  return { data, lengths: values.map((v) => v.length), groups: groups.map((g) => g.length) };
}

function refusal(call) {
  try {
    call();
  } catch (e) {
    return e;
  }
  assert.fail("expected a refusal");
}

const wordCount = {
  map: (record) => record.text().split(/\s+/).filter(Boolean).map((w) => [w.toLowerCase(), 1]),
  reduce: (a, b) => a + b,
};

test("map packs canonical JSON with the index of the record each pair came from", () => {
  const p = processor(wordCount);
  assert.deepEqual(p.describe(), { kind: "map-reduce", sdk: "weir-sdk-js/0.1.0" });
  assert.deepEqual(pairs(p.mapBatch(records("a B", "", "été"))), [
    [0, '"a"', "1", undefined],
    [0, '"b"', "1", undefined],
    [2, '"été"', "1", undefined],
  ]);
});

test("pairs with their own event time and structured keys", () => {
  const p = processor({ ...wordCount, map: () => [{ key: { b: 1, a: [1, 2] }, value: 1.5, timestamp: 42 }] });
  assert.deepEqual(pairs(p.mapBatch(records("x"))), [[0, '{"a":[1,2],"b":1}', "1.5", 42n]]);
});

test("reduce folds groups left to right; a single value passes through", () => {
  const p = processor({ ...wordCount, reduce: (a, b) => a + b });
  const out = p.reduceBatch(packed([1, 2, 3], [10], ["a", "b"]));
  assert.equal(dec.decode(out.data), '610"ab"');
  assert.deepEqual(out.lengths, [1, 2, 4]);
});

test("the default finish writes the Rust SDK's JSON", () => {
  const p = processor(wordCount);
  const key = enc.encode('"été"');
  const data = new Uint8Array([...key, ...enc.encode("3")]);
  const out = p.finishBatch({ data, entries: [{ window: { start: 0n, end: 10000n }, keyLen: key.length, accLen: 1 }] });
  const k = '{"window_start":0,"window_end":10000,"key":"été"}';
  const v = '{"window_start":0,"window_end":10000,"key":"été","value":3}';
  assert.equal(dec.decode(out.data), k + v);
  assert.deepEqual(out.entries, [{ keyLen: enc.encode(k).length, valueLen: enc.encode(v).length }]);
});

test("a custom finish", () => {
  const p = processor({ ...wordCount, finish: (w, key, n) => ({ key, value: JSON.stringify({ key, n, end: w.end }) }) });
  const out = p.finishBatch({ data: enc.encode('"x"7'), entries: [{ window: { start: 0n, end: 5n }, keyLen: 3, accLen: 1 }] });
  assert.equal(dec.decode(out.data), 'x{"key":"x","n":7,"end":5}');
});

test("an error names the record; a TypeError says where", () => {
  const p = processor({ ...wordCount, map: (r) => [[r.text(), r.value.length === 0 ? null.x : 1]] });
  const e = refusal(() => p.mapBatch(records("ok", "")));
  assert.equal(e.index, 1);
  assert.match(e.message, /^TypeError: .*null.*\(at weir\.test\.js:\d+\)$/);
  const plain = processor({ ...wordCount, map: () => { throw new Error("not a reading"); } });
  assert.deepEqual(refusal(() => plain.mapBatch(records("x"))), { index: 0, message: "not a reading" });
});

test("the author's mistakes become messages that say what to fix", () => {
  const cases = [
    [{ map: () => 42 }, /map\(\) returned a number \(42\): return an array of \[key, value\] pairs/],
    [{ map: () => ["word", 1] }, /map\(\) gave a string \("word"\), not a \[key, value\] pair/],
    [{ map: () => [["k", 10n]] }, /the value 10 cannot cross to the host/],
    [{ map: () => [["k", undefined]] }, /the value undefined cannot cross to the host/],
    [{ map: () => [["k", NaN]] }, /NaN is not a JSON number/],
  ];
  for (const [app, message] of cases) {
    assert.match(refusal(() => processor({ ...wordCount, ...app }).mapBatch(records("x"))).message, message);
  }
  const noReturn = processor({ ...wordCount, reduce: (a, b) => { a + b; } });
  assert.match(refusal(() => noReturn.reduceBatch(packed([1, 2]))).message, /did you forget `return`\?/);
  const retyped = processor({ ...wordCount, reduce: (a, b) => String(a + b) });
  assert.match(refusal(() => retyped.reduceBatch(packed([1, 2]))).message, /returned a string from a number and a number/);
  const badText = processor(wordCount);
  assert.equal(refusal(() => badText.mapBatch(records(new Uint8Array([0xff])))).message, "record value is not UTF-8 text");
});

test("a module without map and reduce fails to build, saying what to export", () => {
  assert.throws(() => processor({}, { module: "app.js" }), /app\.js exports no map function/);
  assert.throws(() => processor({ map() {} }), /exports map but no reduce/);
  assert.throws(() => processor({ transform() {}, map() {} }), /a transform or a map\/reduce, not both/);
});

test("transform outputs one, many or none", () => {
  const p = processor({
    transform: (r) => (r.text() === "drop" ? null : r.text() === "two" ? ["two", { key: "k", value: "v", timestamp: 7 }] : r.text().toUpperCase()),
  });
  assert.equal(p.describe().kind, "transform");
  assert.deepEqual(pairs(p.mapBatch(records("a", "drop", "two"))), [
    [0, "", "A", undefined],
    [2, "", "two", undefined],
    [2, "k", "v", 7n],
  ]);
});

test("records and canonical JSON", () => {
  const [wit] = records('{"t": 1}');
  const record = new Record(wit);
  assert.deepEqual(record.json(), { t: 1 });
  assert.equal(record.timestamp, 0);
  assert.equal(dec.decode(record.header("h")), "x");
  assert.equal(record.header("missing"), null);
  assert.equal(new Record({ value: undefined }).value.length, 0);
  assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: "é" }), '{"a":"é","b":[1,{"c":2,"d":1}]}');
});

test("console output goes to the host's log", () => {
  const lines = [];
  const saved = { ...console };
  try {
    processor(wordCount, { log: (level, message) => lines.push([level, message]) });
    console.warn("careful", { n: 1 });
    console.log("hello");
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(lines, [["warn", 'careful {"n":1}'], ["info", "hello"]]);
});
