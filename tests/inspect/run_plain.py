#!/usr/bin/env python3
"""Run tests/inspect without pytest: the host venv (like a user's host) has no pytest and no numpy.

    ~/.cache/tao-sparse4d-fix/host-venv/bin/python tests/inspect/run_plain.py [-q] [NAME_PART ...]

Runs every ``test_*`` function of every ``test_*.py`` here, giving a fresh
``tmp_path`` to the tests that take one; ``unittest.SkipTest`` skips. Ends with
the line "N passed, N failed, N skipped"; exit status 1 when a test failed.
"""
import importlib
import inspect as pyinspect  # the standard library's (this folder holds no inspect module)
import sys
import tempfile
import traceback
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]


def main(argv):
    quiet = "-q" in argv
    wanted = [a for a in argv if a != "-q"]
    passed = failed = skipped = 0
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(path.stem)
        for name, test in sorted(vars(module).items()):
            if not (name.startswith("test_") and callable(test)):
                continue
            if wanted and not any(w in f"{path.stem}::{name}" for w in wanted):
                continue
            label = f"{path.name}::{name}"
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    kwargs = {"tmp_path": Path(tmp)} if "tmp_path" in pyinspect.signature(test).parameters else {}
                    test(**kwargs)
            except unittest.SkipTest as why:
                skipped += 1
                print(f"SKIPPED {label}: {why}")
            except Exception:
                failed += 1
                print(f"FAILED {label}\n{traceback.format_exc()}")
            else:
                passed += 1
                if not quiet:
                    print(f"passed {label}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
