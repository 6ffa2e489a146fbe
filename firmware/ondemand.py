"""Code a running gateway seldom needs: imported for one call and dropped after.

In the stock layout (.mpy files) an imported module's code stays in the heap;
a module used only for a config PATCH, a TLS handshake or a fail-safe image
need not hold that heap the rest of the time. (In the p1gw image the code is
in flash either way, and importing it again is cheap.)
"""
import sys


def call(module, fn, *args):
    """``module.fn(*args)``; every module the call imported is dropped again after."""
    loaded = tuple(sys.modules)
    try:
        return getattr(__import__(module), fn)(*args)
    finally:
        # No list of the names to drop: after a MemoryError there may be no heap
        # for one, and the modules would stay (iterating a dict allocates nothing).
        while True:
            for name in sys.modules:
                if name not in loaded:
                    break
            else:
                break
            del sys.modules[name]  # pyright: ignore[reportPossiblyUnbound]


def once(module, fn, *args):
    """``module.fn(*args)`` for code that runs once (the boot): ``module`` is dropped
    after, the modules it imported stay, for what it built from them lives on."""
    try:
        return getattr(__import__(module), fn)(*args)
    finally:
        sys.modules.pop(module, None)
