"""`Error`, and how an exception from the author's code becomes a dead letter's message."""

import os
import traceback

_SDK_DIR = os.path.dirname(os.path.abspath(__file__))
# The standard library's own frames (json's decoder, say) are not where the author looks.
_STDLIB_DIR = os.path.dirname(os.path.abspath(os.__file__))


class Error(Exception):
    """Refuses the record (or group, or window) at hand: it goes to the dead letters with this
    message, and the stream goes on. Any other exception does the same, with its type and the
    line of your code that raised it."""


def describe(exc: BaseException) -> str:
    """The message of a dead letter for `exc`: the message alone for `weir.Error`; otherwise the
    exception type, message and the innermost line of the author's code it passed through."""
    if isinstance(exc, Error):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = _author_frame(exc)
    return f"{text} (at {where})" if where else text


def _author_frame(exc: BaseException):
    """`file:line in function` of the innermost traceback frame outside this SDK and the
    standard library."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = os.path.abspath(frame.filename)
        if os.path.dirname(path) != _SDK_DIR and not path.startswith(_STDLIB_DIR + os.sep):
            return f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"
    return None
