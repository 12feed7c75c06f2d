"""Loads tests/e2e/pool.py for the test suites beside tests/e2e (tests/pool, tests/deploy)."""

import importlib
import importlib.util
import pathlib
import sys

E2E = pathlib.Path(__file__).resolve().parent / "e2e"


def load_e2e_helpers():
    """tests/e2e/pool.py (the reference word-count stream, readers of the output), imported
    with the e2e directory's own conftest visible as `conftest`, which pool.py imports from."""
    if str(E2E) not in sys.path:
        sys.path.append(str(E2E))
    if "pool" in sys.modules:
        return sys.modules["pool"]
    spec = importlib.util.spec_from_file_location("weir_e2e_conftest", E2E / "conftest.py")
    e2e_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(e2e_conftest)
    saved = sys.modules.get("conftest")
    sys.modules["conftest"] = e2e_conftest
    try:
        return importlib.import_module("pool")
    finally:
        if saved is not None:
            sys.modules["conftest"] = saved
        else:
            sys.modules.pop("conftest", None)
