"""The contract's batch functions (`wit/weir.wit`) over the registered functions.

Written against an `abi` object that supplies the contract's record types and `Err` (the
componentize-py bindings in the component, a stub in the SDK's unit tests), so all of this runs
natively too. Keys and values are canonical JSON: compact, object keys sorted, so equal keys
encode to equal bytes (the host compares keys bytewise).
"""

import json

from ._errors import Error, describe
from ._registry import _where, registered
from ._types import Output, Pair, Record, Window

SDK = "weir-sdk-python/0.1.0"

_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
_loads = json.loads
_S64 = (-(1 << 63), (1 << 63) - 1)


def encode(obj, what):
    """`obj` as canonical JSON bytes, or a `weir.Error` that names what cannot be encoded."""
    try:
        return _CANONICAL(obj).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise Error(
            f"{what} {_short(obj)} cannot cross to the host ({e}): keys and values must be str, int, "
            f"float, bool, None, or lists, tuples and dicts of those") from None


def _short(obj):
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_module(abi, kind):
    """The contract's `module-info` for a module of this kind."""
    kinds = {"map-reduce": abi.ModuleKind.MAP_REDUCE, "transform": abi.ModuleKind.TRANSFORM}
    return abi.ModuleInfo(kinds[kind], SDK)


def _refuse(abi, index, exc):
    return abi.Err(abi.ItemError(index, describe(exc)))


def map_batch(abi, records):
    """`map-batch` of a map/reduce module: calls `map` on each record, packs the pairs."""
    fn = registered["map"]
    data = bytearray()
    pairs = []
    make_pair = abi.Pair
    for index, wit in enumerate(records):
        try:
            result = fn(Record._from_wit(wit))
            if result is None:
                continue
            for item in _iterate(result, fn, "map"):
                if type(item) is tuple and len(item) == 2:
                    key, value = item
                    timestamp = None
                elif isinstance(item, Pair):
                    key, value, timestamp = item.key, item.value, _timestamp(item.timestamp, fn)
                else:
                    raise Error(
                        f"map() ({_where(fn)}) yielded {_short(item)} ({type(item).__name__}), not a "
                        f"(key, value) pair: yield key, value (or weir.Pair(key, value, timestamp=ms))")
                k = encode(key, "the key")
                v = encode(value, "the value")
                data += k
                data += v
                pairs.append(make_pair(index, len(k), len(v), timestamp))
        except Exception as e:
            raise _refuse(abi, index, e) from None
    return abi.Emitted(bytes(data), pairs)


def _iterate(result, fn, role):
    if isinstance(result, (str, bytes, dict)):
        raise Error(f"{role}() ({_where(fn)}) returned a {type(result).__name__}: return or yield "
                    f"(key, value) pairs")
    try:
        return iter(result)
    except TypeError:
        raise Error(f"{role}() ({_where(fn)}) returned {_short(result)} ({type(result).__name__}): "
                    f"return or yield (key, value) pairs, or return None for none") from None


def _timestamp(ts, fn):
    if ts is None:
        return None
    if type(ts) is not int or not _S64[0] <= ts <= _S64[1]:
        raise Error(f"{fn.__name__}() ({_where(fn)}) gave the timestamp {_short(ts)}: it must be an "
                    f"int, milliseconds since the Unix epoch")
    return ts


def reduce_batch(abi, packed):
    """`reduce-batch`: folds each group of values, left to right, with `reduce`."""
    fn = registered["reduce"]
    data, lengths = packed.data, packed.lengths
    pos = 0
    next_value = 0
    out = bytearray()
    out_lengths = []
    for group, count in enumerate(packed.groups):
        try:
            if count == 0:
                raise Error("an empty reduce group")
            if next_value + count > len(lengths):
                raise Error("a reduce group runs past the values")
            size = lengths[next_value]
            first = data[pos:pos + size]
            pos += size
            next_value += 1
            if count == 1:
                # Canonical JSON in, the same bytes out: nothing to fold.
                encoded = first
            else:
                acc = _loads(first)
                for _ in range(count - 1):
                    size = lengths[next_value]
                    value = _loads(data[pos:pos + size])
                    pos += size
                    next_value += 1
                    folded = fn(acc, value)
                    _check_fold(fn, folded, acc, value)
                    acc = folded
                encoded = encode(acc, "the result of reduce()")
        except Exception as e:
            raise _refuse(abi, group, e) from None
        out += encoded
        out_lengths.append(len(encoded))
    return abi.Packed(bytes(out), out_lengths)


_NUMBER = (int, float)
_SEQUENCE = (list, tuple)


def _check_fold(fn, result, a, b):
    """Refuses a reduce result that cannot be folded again like its inputs."""
    if result is None and not (a is None and b is None):
        raise Error(f"reduce() ({_where(fn)}) returned None for {_short(a)} and {_short(b)}: "
                    f"did you forget `return`?")
    if type(result) is type(a) or type(result) is type(b):
        return
    if isinstance(result, _NUMBER) and isinstance(a, _NUMBER) and not isinstance(result, bool):
        return
    if isinstance(result, _SEQUENCE) and isinstance(a, _SEQUENCE):
        return
    raise Error(f"reduce() ({_where(fn)}) returned a {type(result).__name__} from a {type(a).__name__} "
                f"and a {type(b).__name__}: it must return the same kind of value it folds (its "
                f"result is folded again with the next value)")


def finish_batch(abi, packed):
    """`finish-batch`: turns each closed (window, key, accumulator) into an output record."""
    fn = registered["finish"]
    data = packed.data
    pos = 0
    out = bytearray()
    entries = []
    make_entry = abi.OutputEntry
    for index, entry in enumerate(packed.entries):
        try:
            key_len, acc_len = entry.key_len, entry.acc_len
            if pos + key_len + acc_len > len(data):
                raise Error("a finish entry runs past the data")
            key = data[pos:pos + key_len]
            acc = data[pos + key_len:pos + key_len + acc_len]
            pos += key_len + acc_len
            start, end = entry.window.start, entry.window.end
            if fn is None:
                # The default output, spliced from the canonical JSON the host kept: the same
                # bytes Output.window_json would write, without decoding anything.
                head = b'{"window_start":%d,"window_end":%d,"key":' % (start, end)
                record_key = head + key + b"}"
                record_value = head + key + b',"value":' + acc + b"}"
            else:
                output = _as_output(fn(Window(start, end), _loads(key), _loads(acc)), fn, "finish")
                record_key, record_value = output.key, output.value
        except Exception as e:
            raise _refuse(abi, index, e) from None
        if record_key is not None:
            out += record_key
        out += record_value
        entries.append(make_entry(None if record_key is None else len(record_key), len(record_value)))
    return abi.OutputBatch(bytes(out), entries)


def _as_output(result, fn, role):
    if isinstance(result, Output):
        return result
    if isinstance(result, (bytes, bytearray, memoryview, str)):
        return Output(result)
    raise Error(f"{role}() ({_where(fn)}) returned {_short(result)} ({type(result).__name__}): return a "
                f"weir.Output (weir.Output.json(obj) for JSON), bytes or str")


def transform_batch(abi, records):
    """`map-batch` of a transform module: each output record becomes a pair whose key and
    value are the raw bytes to write (an empty key means no key)."""
    fn = registered["transform"]
    data = bytearray()
    pairs = []
    make_pair = abi.Pair
    for index, wit in enumerate(records):
        try:
            result = fn(Record._from_wit(wit))
            if result is None:
                continue
            if isinstance(result, (Output, bytes, bytearray, memoryview, str)):
                result = (result,)
            else:
                try:
                    result = iter(result)
                except TypeError:
                    raise Error(
                        f"transform() ({_where(fn)}) returned {_short(result)} ({type(result).__name__}): "
                        f"return or yield weir.Output, bytes or str, or return None to drop the record"
                    ) from None
            for item in result:
                output = _as_output(item, fn, "transform")
                key = output.key or b""
                if output.timestamp is not None:
                    _timestamp(output.timestamp, fn)
                data += key
                data += output.value
                pairs.append(make_pair(index, len(key), len(output.value), output.timestamp))
        except Exception as e:
            raise _refuse(abi, index, e) from None
    return abi.Emitted(bytes(data), pairs)


def no_reduce(abi, _packed):
    """`reduce-batch` and `finish-batch` of a transform module: never called by the host."""
    raise abi.Err(abi.ItemError(0, "a transform module has no reduce or finish"))
