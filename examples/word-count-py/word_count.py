"""Hadoop's word count as a Weir module, in Python: each line maps to (word, 1) per word, and
reduce sums. The output is byte for byte what the Rust example (`examples/word-count`) writes.
"""

import weir
from alphanumeric import WORD


def words(line):
    """The lower-cased words of a line: runs of letters and digits."""
    return [word.lower() for word in WORD.findall(line)]


@weir.map
def map(record: weir.Record):
    return [(word, 1) for word in words(record.text())]


@weir.reduce
def reduce(a: int, b: int) -> int:
    return a + b
