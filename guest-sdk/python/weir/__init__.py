"""weir: write Weir modules in Python.

A Weir module is a map function and an associative reduce function that the Weir runtime runs in
a WebAssembly sandbox over a stream of records, grouped by key into event-time windows. With
this SDK they are two plain, decorated functions::

    import weir

    @weir.map
    def map(record: weir.Record):
        for word in record.text().split():
            yield word.lower(), 1

    @weir.reduce
    def reduce(a: int, b: int) -> int:
        return a + b

``weir build`` turns the module into a component (with componentize-py); ``weir run`` runs it
over a file of records.

- ``map(record)`` returns or yields ``(key, value)`` pairs, or ``weir.Pair(key, value,
  timestamp=ms)`` to give a pair its own event time. Raising an exception sends that record to
  the dead letters with your message; the stream goes on.
- ``reduce(a, b)`` folds two values into one of the same kind. It must be associative; with
  session windows, commutative too.
- ``finish(window, key, value)`` (optional, ``@weir.finish``) shapes the output record; the
  default is ``{"window_start": ms, "window_end": ms, "key": key, "value": value}``.
- ``@weir.transform`` instead of map/reduce: a stateless per-record filter or reshape that
  returns or yields output records (``weir.Output``, ``bytes`` or ``str``).

Keys and values cross the sandbox boundary as canonical JSON (compact, sorted object keys), so
they can be ``str``, ``int``, ``float``, ``bool``, ``None``, and lists, tuples and dicts of
those; a tuple comes back to ``reduce`` and ``finish`` as a list. The standard ``logging``
module goes to the host's logs.
"""

from ._errors import Error
from ._registry import finish, map, reduce, transform
from ._types import Output, Pair, Record, Window

__version__ = "0.1.0"

# The decorators are meant as `weir.map` etc.: a star import would shadow the builtin `map`.
__all__ = ["Error", "Output", "Pair", "Record", "Window"]
