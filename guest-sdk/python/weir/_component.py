"""The component's export: `Processor`, the `processor` interface of `weir:processor@0.1.0`.

Imported by the entry module `weir build` generates, after the author's module (so its
decorators have run): it checks what was registered, which fails the build with the reason
when something is missing, and routes the standard `logging` module to the host's `log`
import. Only this module imports the componentize-py bindings (`wit_world`).
"""

import logging

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log as wit_log
from wit_world.imports import types

from . import _guest
from ._registry import check


class _Abi:
    """The contract's types, as `_guest` expects them."""

    Emitted = types.Emitted
    Pair = types.Pair
    ItemError = types.ItemError
    Packed = types.Packed
    OutputBatch = types.OutputBatch
    OutputEntry = types.OutputEntry
    ModuleInfo = types.ModuleInfo
    ModuleKind = types.ModuleKind
    Err = Err


_KIND = check()


class Processor(exports.Processor):
    """The `processor` interface over the registered functions."""

    def describe(self) -> types.ModuleInfo:
        return _guest.describe_module(_Abi, _KIND)

    if _KIND == "map-reduce":

        def map_batch(self, records):
            return _guest.map_batch(_Abi, records)

        def reduce_batch(self, input):
            return _guest.reduce_batch(_Abi, input)

        def finish_batch(self, input):
            return _guest.finish_batch(_Abi, input)

    else:

        def map_batch(self, records):
            return _guest.transform_batch(_Abi, records)

        def reduce_batch(self, input):
            return _guest.no_reduce(_Abi, input)

        def finish_batch(self, input):
            return _guest.no_reduce(_Abi, input)


class _HostLog(logging.Handler):
    """Sends `logging` records to the host's structured logs (which filter and rate-limit)."""

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            level = wit_log.Level.ERROR
        elif record.levelno >= logging.WARNING:
            level = wit_log.Level.WARN
        elif record.levelno >= logging.INFO:
            level = wit_log.Level.INFO
        elif record.levelno >= logging.DEBUG:
            level = wit_log.Level.DEBUG
        else:
            level = wit_log.Level.TRACE
        try:
            wit_log.log(level, self.format(record))
        except Exception:
            self.handleError(record)


_root = logging.getLogger()
_root.addHandler(_HostLog())
# The host decides what it keeps (`weir --log`); the guest passes everything on.
_root.setLevel(logging.DEBUG)
