"""How a long-running server gives memory back: the allocators' settings and trimming.

Measured with 30 sessions watching one run (issue 9): after everyone had left, glibc held 190 MB of freed
memory in its heaps, and pyarrow's mimalloc (tables shown with st.dataframe, Parquet reads) another 30 MB.
Four causes, and what is done about each:

- glibc raises its mmap threshold to the size of the largest block freed so far (up to 32 MB), so after
  the first run every tensor and JSON string up to that size lands in a heap, whose freed middle it keeps.
  A fixed threshold (MMAP_THRESHOLD) keeps large blocks in their own mappings, returned when freed.
- with it, glibc raises the size above which a heap's free top is given back (its trim threshold, to twice
  the mmap threshold: up to 64 MB), and `malloc_trim` never trims the top of a thread's arena: four of
  them held 15 MB each. The trim threshold is fixed too (TRIM_THRESHOLD).
- every thread that allocates may get an arena of its own; they are capped (arenas made before the cap
  stay, and are trimmed like the others).
- freed memory within the heaps goes back only when asked (`trim`): after each job, and every
  TRIM_SECONDS on a server, since sessions leave without telling the app.

pyarrow allocates through glibc too (its system pool), so all of it is trimmed the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time

MMAP_THRESHOLD = 2**20  # bytes: blocks this large get their own mapping (glibc's dynamic threshold is off)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # bytes: a heap's free top past this goes back to the system at once
MALLOC_ARENAS = 2
TRIM_SECONDS = 10.0
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's parameters (malloc.h)


@functools.cache
def libc() -> ctypes.CDLL | None:
    """glibc, or None where the C library is another one (macOS, musl): the settings then do nothing.
    Looked up once: find_library runs `ldconfig -p`."""
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None


def configure_allocators(
    arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD
) -> bool:
    """Cap glibc's arenas, fix its mmap and trim thresholds and send pyarrow's allocations to it. False where
    glibc is not used (pyarrow keeps its own pool there)."""
    lib = libc()
    if lib is None:
        return False
    import pyarrow  # pandas' string columns and st.dataframe use it

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    settings = ((M_ARENA_MAX, arenas), (M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold))
    applied = [lib.mallopt(param, value) for param, value in settings]  # every one, even after a failure
    return all(applied)


def trim() -> None:
    """Give the freed pages within glibc's heaps back to the system (a few ms)."""
    lib = libc()
    if lib is not None:
        lib.malloc_trim(0)


@functools.cache
def trim_every(seconds: float = TRIM_SECONDS) -> None:
    """Trim every `seconds` from a daemon thread, started once per process (the server makes its registry
    once)."""

    def loop() -> None:
        while True:
            time.sleep(seconds)
            trim()

    threading.Thread(target=loop, name="bn-trim", daemon=True).start()
