"""Tiny test runner for the MicroPython unix port, which ships no unittest.

Runs every ``test_*`` function of every ``test_*.py`` module in the given
folders. The same modules run under pytest on CPython, so tests use only plain
``assert`` and helpers from ``host_tests/unit/_support.py``.
Prints one line per failure and the closing ``N passed, N failed`` line.
"""
import os
import sys

try:
    import gc
except ImportError:  # pragma: no cover
    gc = None


def _modules(folder):
    for name in sorted(os.listdir(folder)):
        if name.startswith("test_") and name.endswith(".py"):
            yield name[:-3]


def run(folders, only=None):
    passed = failed = 0
    for folder in folders:
        if folder not in sys.path:
            sys.path.insert(0, folder)
        for modname in _modules(folder):
            loaded = set(sys.modules)
            try:
                mod = __import__(modname)
            except Exception as e:
                failed += 1
                print("FAIL %s (import): %s %s" % (modname, type(e).__name__, e))
                continue
            for name in sorted(dir(mod)):
                if not name.startswith("test_") or (only and only not in name):
                    continue
                fn = getattr(mod, name)
                if not callable(fn):
                    continue
                try:
                    fn()
                    passed += 1
                except Exception as e:
                    failed += 1
                    print("FAIL %s.%s: %s %s" % (modname, name, type(e).__name__, e))
                    sys.print_exception(e) if hasattr(sys, "print_exception") else None
            # Unload the test module and whatever it imported, so each module
            # starts with the heap the previous one found.
            mod = fn = None
            for name in list(sys.modules):
                if name not in loaded:
                    del sys.modules[name]
            if gc:
                gc.collect()
    print("micropython: %d passed, %d failed" % (passed, failed))
    return failed


if __name__ == "__main__":
    args = sys.argv[1:]
    only = None
    if "-k" in args:
        i = args.index("-k")
        only = args[i + 1]
        args = args[:i] + args[i + 2:]
    sys.exit(1 if run(args or ["host_tests/unit"], only) else 0)
