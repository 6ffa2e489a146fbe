"""Code a running gateway seldom needs: imported for one call and dropped after.

In the stock layout (.mpy files) an imported module's code stays in the heap;
a module used only for a config PATCH, a TLS handshake or a fail-safe image
need not hold that heap the rest of the time. (In the p1gw image the code is
in flash either way, and importing it again is cheap.)
"""
import gc
import sys


def _load(module):
    # Loading puts each function's code in a block of its own: on a heap that a
    # running gateway has cut into pieces, collect first so that the holes the
    # garbage leaves join up (the stock layout's config PATCH failed on a 520-byte
    # block at 128 KB with 15 KB free).
    if module not in sys.modules:
        gc.collect()
    return __import__(module)


def call(module, fn, *args):
    """``module.fn(*args)``; every module the call imported is dropped again after."""
    loaded = tuple(sys.modules)
    try:
        return getattr(_load(module), fn)(*args)
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
        return getattr(_load(module), fn)(*args)
    finally:
        sys.modules.pop(module, None)
