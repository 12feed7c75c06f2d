"""Native unit tests: `python3 -m unittest` (after `weir build`, which unpacks the SDK)."""

import os
import sys
import unittest

try:
    import weir
except ModuleNotFoundError:  # not installed: use the copy `weir build` unpacked
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "build", ".weir", "python"))
    import weir

import word_count


class WordCountTest(unittest.TestCase):
    def test_words_are_runs_of_letters_and_digits_lower_cased(self):
        self.assertEqual(word_count.words("Hello, hello WORLD! l'été 2024—Ünïcode_x"),
                         ["hello", "hello", "world", "l", "été", "2024", "ünïcode", "x"])

    def test_map_emits_word_one_and_reduce_sums(self):
        pairs = word_count.map(weir.Record("to be or not to be"))
        self.assertEqual([p for p in pairs if p[0] == "be"], [("be", 1), ("be", 1)])
        self.assertEqual(word_count.reduce(word_count.reduce(1, 2), 3), 6)


if __name__ == "__main__":
    unittest.main()
