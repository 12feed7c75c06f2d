"""The values a module's functions receive and return: `Record`, `Pair`, `Output`, `Window`."""

import json

from ._errors import Error


class Record:
    """One input record: value, key, timestamp, headers and where it came from.

    Construct one in a unit test: ``weir.Record("some text")`` or
    ``weir.Record(b"...", key=b"k", timestamp=1_700_000_000_000, headers=[("h", b"v")])``.
    """

    __slots__ = ("value", "key", "timestamp", "partition", "offset", "_headers")

    def __init__(self, value=b"", *, key=None, timestamp=0, headers=(), partition=0, offset=0):
        #: The value, as bytes (``b""`` when the record has none, a tombstone).
        self.value = value.encode() if isinstance(value, str) else bytes(value)
        #: The key, as bytes, or ``None``.
        self.key = key.encode() if isinstance(key, str) else key
        #: Milliseconds since the Unix epoch.
        self.timestamp = timestamp
        #: The input partition the record was read from.
        self.partition = partition
        #: The record's offset in its input partition.
        self.offset = offset
        self._headers = [(name, v.encode() if isinstance(v, str) else bytes(v)) for name, v in headers]

    @classmethod
    def _from_wit(cls, wit):
        """Wraps the contract's `input-record` without copying its bytes."""
        record = cls.__new__(cls)
        record.value = wit.value if wit.value is not None else b""
        record.key = wit.key
        record.timestamp = wit.timestamp
        record.partition = wit.partition
        record.offset = wit.offset
        record._headers = wit.headers
        return record

    @property
    def headers(self):
        """All headers, in order, as ``(name, value)`` tuples."""
        return [h if isinstance(h, tuple) else (h.key, h.value) for h in self._headers]

    def header(self, name):
        """The value of the first header called `name`, or ``None``."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def text(self):
        """The value as UTF-8 text; raises `weir.Error` when it is not."""
        try:
            return self.value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Error(f"record value is not UTF-8 text (invalid byte at position {e.start})") from None

    def json(self):
        """The value parsed as JSON; raises `weir.Error` when it is not JSON."""
        try:
            return json.loads(self.value)
        except ValueError as e:
            raise Error(f"record value is not JSON: {e}") from None

    def __repr__(self):
        return (f"Record(value={self.value!r}, key={self.key!r}, timestamp={self.timestamp}, "
                f"partition={self.partition}, offset={self.offset})")


class Pair:
    """A (key, value) pair that `map` emits with its own event time (milliseconds since the
    Unix epoch), instead of the input record's timestamp. A plain ``(key, value)`` tuple takes
    the record's."""

    __slots__ = ("key", "value", "timestamp")

    def __init__(self, key, value, timestamp=None):
        self.key = key
        self.value = value
        self.timestamp = timestamp

    def __eq__(self, other):
        if isinstance(other, tuple) and self.timestamp is None:
            return (self.key, self.value) == other
        return isinstance(other, Pair) and (self.key, self.value, self.timestamp) == (
            other.key, other.value, other.timestamp)

    __hash__ = None

    def __repr__(self):
        return f"Pair({self.key!r}, {self.value!r}, timestamp={self.timestamp!r})"


class Window:
    """A half-open window of event time, ``[start, end)``, in milliseconds since the epoch."""

    __slots__ = ("start", "end")

    def __init__(self, start, end):
        self.start = start
        self.end = end

    def __eq__(self, other):
        return isinstance(other, Window) and (self.start, self.end) == (other.start, other.end)

    def __hash__(self):
        return hash((self.start, self.end))

    def __repr__(self):
        return f"Window({self.start}, {self.end})"


_OUTPUT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Output:
    """A record for the output topic: a value (bytes, or str as UTF-8), an optional key, and for
    transforms an optional timestamp (a window's output takes the window's end)."""

    __slots__ = ("value", "key", "timestamp")

    def __init__(self, value, key=None, timestamp=None):
        self.value = _to_bytes(value, "an output value")
        self.key = None if key is None else _to_bytes(key, "an output key")
        self.timestamp = timestamp

    @classmethod
    def json(cls, value, key=None):
        """An output record whose value is `value` as JSON (and whose key, when given, is
        `key` as JSON)."""
        return cls(_OUTPUT_JSON.encode(value), None if key is None else _OUTPUT_JSON.encode(key))

    @classmethod
    def window_json(cls, window, key, value):
        """The default output of a window: the value
        ``{"window_start": ms, "window_end": ms, "key": key, "value": value}`` keyed by
        ``{"window_start": ms, "window_end": ms, "key": key}``, the same bytes the Rust SDK
        writes, so a compacted output topic keeps one record per (window, key)."""
        record_key = _OUTPUT_JSON.encode({"window_start": window.start, "window_end": window.end, "key": key})
        record_value = _OUTPUT_JSON.encode(
            {"window_start": window.start, "window_end": window.end, "key": key, "value": value})
        return cls(record_value, record_key)

    def __eq__(self, other):
        return isinstance(other, Output) and (self.value, self.key, self.timestamp) == (
            other.value, other.key, other.timestamp)

    __hash__ = None

    def __repr__(self):
        return f"Output({self.value!r}, key={self.key!r}, timestamp={self.timestamp!r})"


def _to_bytes(data, what):
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes or str, not {type(data).__name__}")
