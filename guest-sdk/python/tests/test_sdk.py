"""Unit tests of the Python SDK, natively: the batch functions run against a stub of the
contract's types (the component uses componentize-py's bindings instead).

    PYTHONPATH=guest-sdk/python python3 -m unittest discover -s guest-sdk/python/tests
"""

import enum
import json
import unittest
from dataclasses import dataclass
from typing import Optional

import weir
from weir import _guest, _registry


class StubAbi:
    """The contract's types, as componentize-py generates them (field names and order)."""

    @dataclass
    class Header:
        key: str
        value: bytes

    @dataclass
    class InputRecord:
        key: Optional[bytes]
        value: Optional[bytes]
        timestamp: int
        headers: list
        partition: int
        offset: int

    @dataclass
    class Pair:
        source: int
        key_len: int
        value_len: int
        timestamp: Optional[int]

    @dataclass
    class Emitted:
        data: bytes
        pairs: list

    @dataclass
    class ItemError:
        index: int
        message: str

    @dataclass
    class ReduceInput:
        data: bytes
        lengths: list
        groups: list

    @dataclass
    class Packed:
        data: bytes
        lengths: list

    @dataclass
    class Window:
        start: int
        end: int

    @dataclass
    class FinishEntry:
        window: "StubAbi.Window"
        key_len: int
        acc_len: int

    @dataclass
    class FinishInput:
        data: bytes
        entries: list

    @dataclass
    class OutputEntry:
        key_len: Optional[int]
        value_len: int

    @dataclass
    class OutputBatch:
        data: bytes
        entries: list

    class ModuleKind(enum.Enum):
        MAP_REDUCE = 0
        TRANSFORM = 1

    @dataclass
    class ModuleInfo:
        kind: "StubAbi.ModuleKind"
        sdk: str

    @dataclass(frozen=True)
    class Err(Exception):
        value: object


A = StubAbi


def records(*values):
    return [A.InputRecord(None, v.encode() if isinstance(v, str) else v, 1000 * i, [A.Header("h", b"x")], 0, i)
            for i, v in enumerate(values)]


def unpack_pairs(emitted):
    out, pos = [], 0
    for p in emitted.pairs:
        key = emitted.data[pos:pos + p.key_len]
        value = emitted.data[pos + p.key_len:pos + p.key_len + p.value_len]
        pos += p.key_len + p.value_len
        out.append((p.source, key, value, p.timestamp))
    return out


def packed_values(*groups):
    values = [json.dumps(v, separators=(",", ":")).encode() for g in groups for v in g]
    return A.ReduceInput(b"".join(values), [len(v) for v in values], [len(g) for g in groups])


class Registered(unittest.TestCase):
    """Each test registers its own functions."""

    def setUp(self):
        self.saved = dict(_registry.registered)
        for role in _registry.registered:
            _registry.registered[role] = None

    def tearDown(self):
        _registry.registered.update(self.saved)

    def refusal(self, call):
        with self.assertRaises(A.Err) as caught:
            call()
        return caught.exception.value


class MapReduceTest(Registered):
    def register_word_count(self):
        @weir.map
        def map(record):
            return [(w.lower(), 1) for w in record.text().split()]

        @weir.reduce
        def reduce(a, b):
            return a + b

        return map, reduce

    def test_decorators_return_the_function_so_it_can_be_called_directly(self):
        map, reduce = self.register_word_count()
        self.assertEqual(map(weir.Record("To be")), [("to", 1), ("be", 1)])
        self.assertEqual(reduce(2, 3), 5)
        self.assertEqual(_registry.check(), "map-reduce")

    def test_map_batch_packs_canonical_json_with_the_source_index(self):
        self.register_word_count()
        emitted = _guest.map_batch(A, records("a B", "", "é"))
        self.assertEqual(unpack_pairs(emitted), [
            (0, b'"a"', b"1", None), (0, b'"b"', b"1", None), (2, '"é"'.encode(), b"1", None)])

    def test_pairs_with_their_own_event_time_and_structured_keys(self):
        @weir.map
        def map(record):
            yield weir.Pair({"b": 1, "a": [1, 2]}, (1.5, None), timestamp=42)

        _registry.registered["reduce"] = lambda a, b: a
        (pair,) = unpack_pairs(_guest.map_batch(A, records("x")))
        self.assertEqual(pair, (0, b'{"a":[1,2],"b":1}', b"[1.5,null]", 42))

    def test_reduce_folds_groups_left_to_right_and_passes_single_values_through(self):
        @weir.reduce
        def reduce(a, b):
            return a + b

        packed = _guest.reduce_batch(A, packed_values([1, 2, 3], [10], ["a", "b"]))
        self.assertEqual(packed.data, b'6' + b'10' + b'"ab"')
        self.assertEqual(packed.lengths, [1, 2, 4])

    def test_finish_default_is_the_rust_sdks_json(self):
        self.register_word_count()
        data = '"été"'.encode() + b"3"
        entries = [A.FinishEntry(A.Window(0, 10000), len('"été"'.encode()), 1)]
        batch = _guest.finish_batch(A, A.FinishInput(data, entries))
        key = '{"window_start":0,"window_end":10000,"key":"été"}'.encode()
        value = '{"window_start":0,"window_end":10000,"key":"été","value":3}'.encode()
        self.assertEqual(batch.data, key + value)
        self.assertEqual(batch.entries, [A.OutputEntry(len(key), len(value))])
        self.assertEqual(weir.Output.window_json(weir.Window(0, 10000), "été", 3), weir.Output(value, key))

    def test_custom_finish(self):
        self.register_word_count()

        @weir.finish
        def finish(window, key, value):
            return weir.Output.json({"w": key, "n": value, "end": window.end}, key=key)

        batch = _guest.finish_batch(A, A.FinishInput(b'"x"7', [A.FinishEntry(A.Window(0, 5), 3, 1)]))
        self.assertEqual(batch.data, b'"x"{"w":"x","n":7,"end":5}')

    def test_describe(self):
        info = _guest.describe_module(A, "map-reduce")
        self.assertEqual((info.kind, info.sdk), (A.ModuleKind.MAP_REDUCE, "weir-sdk-python/0.1.0"))


class MistakesTest(Registered):
    """The author's mistakes become dead letters that say what to fix."""

    def test_an_exception_names_the_record_and_the_line_of_the_authors_code(self):
        @weir.map
        def map(record):
            return [(record.text(), 1 / len(record.value))]

        _registry.registered["reduce"] = lambda a, b: a
        error = self.refusal(lambda: _guest.map_batch(A, records("ok", "")))
        self.assertEqual(error.index, 1)
        self.assertRegex(error.message, r"^ZeroDivisionError: division by zero \(at test_sdk\.py:\d+ in map\)$")

    def test_weir_error_is_the_message_alone(self):
        @weir.map
        def map(record):
            raise weir.Error("not a reading")

        self.assertEqual(self.refusal(lambda: _guest.map_batch(A, records("x"))).message, "not a reading")

    def test_invalid_utf8_text(self):
        @weir.map
        def map(record):
            return [(record.text(), 1)]

        error = self.refusal(lambda: _guest.map_batch(A, records(b"ok\xff")))
        self.assertEqual(error.message, "record value is not UTF-8 text (invalid byte at position 2)")

    def test_map_returning_the_wrong_type(self):
        @weir.map
        def map(record):
            return 42

        error = self.refusal(lambda: _guest.map_batch(A, records("x")))
        self.assertRegex(error.message, r"^map\(\) \(test_sdk\.py:\d+\) returned 42 \(int\): return or yield")

    def test_map_yielding_a_bare_value(self):
        @weir.map
        def map(record):
            return ("word", 1)

        error = self.refusal(lambda: _guest.map_batch(A, records("x")))
        self.assertIn("yielded 'word' (str), not a (key, value) pair", error.message)

    def test_a_value_json_cannot_encode(self):
        @weir.map
        def map(record):
            yield "k", {1, 2}

        error = self.refusal(lambda: _guest.map_batch(A, records("x")))
        self.assertIn("the value {1, 2} cannot cross to the host", error.message)

    def test_reduce_that_forgets_to_return(self):
        @weir.reduce
        def reduce(a, b):
            a + b

        error = self.refusal(lambda: _guest.reduce_batch(A, packed_values([1], [1, 2])))
        self.assertEqual(error.index, 1)
        self.assertIn("returned None for 1 and 2: did you forget `return`?", error.message)

    def test_reduce_that_changes_the_kind_of_value(self):
        @weir.reduce
        def reduce(a, b):
            return str(a + b)

        error = self.refusal(lambda: _guest.reduce_batch(A, packed_values([1, 2])))
        self.assertIn("returned a str from a int and a int", error.message)

    def test_reduce_may_mix_ints_and_floats_and_lists_and_tuples(self):
        @weir.reduce
        def reduce(a, b):
            return (a[0] + b[0] + 0.5,)

        packed = _guest.reduce_batch(A, packed_values([[1], [2]]))
        self.assertEqual(packed.data, b"[3.5]")

    def test_finish_returning_a_dict(self):
        _registry.registered["finish"] = lambda w, k, v: {"k": k}
        error = self.refusal(lambda: _guest.finish_batch(A, A.FinishInput(b'"x"1', [A.FinishEntry(A.Window(0, 1), 3, 1)])))
        self.assertIn("return a weir.Output (weir.Output.json(obj) for JSON), bytes or str", error.message)

    def test_registration_mistakes_fail_at_build_time(self):
        with self.assertRaisesRegex(TypeError, "no function"):
            _registry.check()

        @weir.map
        def map(record):
            return []

        with self.assertRaisesRegex(TypeError, "no @weir.reduce"):
            _registry.check()
        with self.assertRaisesRegex(TypeError, r"must take 2 positional arguments: reduce\(a, b\)"):
            weir.reduce(lambda a: a)

        def other(record):
            return []

        with self.assertRaisesRegex(TypeError, "@weir.map is used twice"):
            weir.map(other)


class TransformTest(Registered):
    def test_outputs_one_or_many_or_none(self):
        @weir.transform
        def transform(record):
            text = record.text()
            if text == "drop":
                return None
            if text == "two":
                return [text, weir.Output(b"v", key=b"k", timestamp=7)]
            return text.upper()

        self.assertEqual(_registry.check(), "transform")
        emitted = _guest.transform_batch(A, records("a", "drop", "two"))
        self.assertEqual(unpack_pairs(emitted), [
            (0, b"", b"A", None), (2, b"", b"two", None), (2, b"k", b"v", 7)])


class RecordTest(unittest.TestCase):
    def test_a_record_built_in_a_test_reads_like_one_from_the_host(self):
        record = weir.Record('{"t": 1}', key="k", timestamp=5, headers=[("h", "v"), ("h", b"w")])
        self.assertEqual((record.value, record.key, record.timestamp), (b'{"t": 1}', b"k", 5))
        self.assertEqual(record.json(), {"t": 1})
        self.assertEqual(record.header("h"), b"v")
        self.assertIsNone(record.header("missing"))
        self.assertEqual(record.headers, [("h", b"v"), ("h", b"w")])
        with self.assertRaisesRegex(weir.Error, "not JSON"):
            weir.Record("nope").json()

    def test_a_record_from_the_host_without_a_value_is_empty(self):
        wit = A.InputRecord(None, None, 0, [A.Header("a", b"1")], 2, 9)
        record = weir.Record._from_wit(wit)
        self.assertEqual((record.value, record.key, record.partition, record.offset), (b"", None, 2, 9))
        self.assertEqual(record.headers, [("a", b"1")])


if __name__ == "__main__":
    unittest.main()
