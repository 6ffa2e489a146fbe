"""Heap bytes one call allocates: the benchmarks' measure under MicroPython."""
import gc


def allocated(fn, *args):
    """Bytes ``fn(*args)`` allocates, the collector held off so nothing is freed meanwhile."""
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()  # type: ignore[attr-defined]  (MicroPython only)
    fn(*args)
    n = gc.mem_alloc() - before  # type: ignore[attr-defined]
    gc.enable()
    return n
