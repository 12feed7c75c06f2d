// Hadoop's word count as a Weir module, in JavaScript: each line maps to [word, 1] per word,
// and reduce sums. The output is byte for byte what the Rust example (examples/word-count)
// writes.

import { WORD } from "./alphanumeric.js";

/** The lower-cased words of a line: runs of letters and digits. */
export function words(line) {
  return (line.match(WORD) ?? []).map(lower);
}

/** One record's pairs: [word, 1] for each word of its text. */
export function map(record) {
  return words(record.text()).map((word) => [word, 1]);
}

/** Folds two counts. */
export function reduce(a, b) {
  return a + b;
}

// toLowerCase, plus Unicode's final-sigma rule, which Rust's to_lowercase applies and
// StarlingMonkey's toLowerCase does not: a Σ with a cased letter before it and none after it
// (within the word) becomes ς.
function lower(word) {
  if (!word.includes("Σ")) return word.toLowerCase();
  const chars = [...word];
  const cased = (c) => c.toLowerCase() !== c || c.toUpperCase() !== c;
  return chars
    .map((c, i) => {
      if (c !== "Σ") return c.toLowerCase();
      const final = chars.slice(0, i).some(cased) && !chars.slice(i + 1).some(cased);
      return final ? "ς" : "σ";
    })
    .join("");
}
