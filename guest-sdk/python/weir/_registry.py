"""The decorators: `@weir.map`, `@weir.reduce`, `@weir.finish`, `@weir.transform`.

Each registers the function for the component's exports and returns it unchanged, so the
author's unit tests call their functions directly.
"""

import inspect

_ROLES = {
    "map": (1, "map(record)"),
    "reduce": (2, "reduce(a, b)"),
    "finish": (3, "finish(window, key, value)"),
    "transform": (1, "transform(record)"),
}

#: role -> the registered function (or None).
registered = {role: None for role in _ROLES}


def _where(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return getattr(fn, "__qualname__", repr(fn))
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"


def _register(role, fn):
    arity, shape = _ROLES[role]
    if not callable(fn):
        raise TypeError(f"@weir.{role} decorates a function {shape}, not {type(fn).__name__}")
    previous = registered[role]
    if previous is not None and previous is not fn:
        raise TypeError(
            f"@weir.{role} is used twice ({_where(previous)} and {_where(fn)}): a module has one {role} function")
    try:
        inspect.signature(fn).bind(*range(arity))
    except TypeError:
        raise TypeError(
            f"@weir.{role} function {fn.__name__}{inspect.signature(fn)} ({_where(fn)}) must take "
            f"{arity} positional argument{'s' if arity > 1 else ''}: {shape}") from None
    except ValueError:
        pass  # a builtin without a signature: let the call tell
    registered[role] = fn
    return fn


def map(fn):
    """Registers `fn(record)` as the module's map: it returns or yields ``(key, value)`` pairs
    (or `weir.Pair` with an event time) for one input record."""
    return _register("map", fn)


def reduce(fn):
    """Registers `fn(a, b)` as the module's reduce: it folds two values into one of the same
    kind. It must be associative."""
    return _register("reduce", fn)


def finish(fn):
    """Registers `fn(window, key, value)` as the module's finish: it turns a closed window's
    result for one key into a `weir.Output` (or ``bytes``/``str``, a value without a key)."""
    return _register("finish", fn)


def transform(fn):
    """Registers `fn(record)` as a stateless transform: it returns or yields output records
    (`weir.Output`, ``bytes`` or ``str``), or returns one, or ``None`` to drop the record."""
    return _register("transform", fn)


def check():
    """The module's kind, ``"map-reduce"`` or ``"transform"``, or a `TypeError` saying what is
    missing. Called when the component is built, so a mistake fails `weir build`."""
    r = registered
    if r["transform"] is not None:
        extra = [role for role in ("map", "reduce", "finish") if r[role] is not None]
        if extra:
            raise TypeError(
                f"a module is either a @weir.transform or a @weir.map/@weir.reduce, not both "
                f"(it also has @weir.{', @weir.'.join(extra)})")
        return "transform"
    if r["map"] is None:
        raise TypeError(
            "the module registers no function: decorate map(record) with @weir.map and "
            "reduce(a, b) with @weir.reduce (or transform(record) with @weir.transform)")
    if r["reduce"] is None:
        raise TypeError("the module has a @weir.map but no @weir.reduce: add reduce(a, b), "
                        "which folds two values into one")
    return "map-reduce"
