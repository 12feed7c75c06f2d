// Native unit tests: `node --test` (no Weir needed: a record is anything with text()).
import assert from "node:assert/strict";
import { test } from "node:test";

import { map, reduce, words } from "./word_count.js";

test("words are runs of letters and digits, lower-cased", () => {
  assert.deepEqual(words("Hello, hello WORLD! l'été 2024—Ünïcode_x"), [
    "hello", "hello", "world", "l", "été", "2024", "ünïcode", "x",
  ]);
});

test("map emits [word, 1] per word and reduce sums", () => {
  assert.deepEqual(map({ text: () => "to be or not to be" }).filter(([w]) => w === "be"), [["be", 1], ["be", 1]]);
  assert.equal(reduce(reduce(1, 2), 3), 6);
});

test("a final capital sigma lowers to ς, as in Rust", () => {
  assert.deepEqual(words("ΟΔΟΣ ΣΑΣ Σ"), ["οδος", "σας", "σ"]);
});
