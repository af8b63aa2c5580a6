"""bn_demo.serving.memory: freed memory goes back to the system (glibc only)."""

import subprocess
import sys
from pathlib import Path

import pytest

from bn_demo.serving import memory

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(memory.libc() is None, reason="glibc's allocator only")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def test_the_allocators_are_set_and_pyarrow_allocates_through_glibc():
    import pyarrow

    assert memory.configure_allocators()
    assert pyarrow.default_memory_pool().backend_name == "system"


SCENARIO = """
import threading

from bn_demo.serving import memory

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

def allocate(size):
    block = bytearray(size)
    del block

for _ in range(2):  # threads that allocate get arenas of their own, as a server's first threads did
    thread = threading.Thread(target=allocate, args=(1024,))
    thread.start()
    thread.join()
allocate(30 * 2**20)  # glibc has now raised its mmap and trim thresholds, as a server has by its first lesson
memory.configure_allocators(arenas=ARENAS)
before = rss_mb()

def allocate_and_free():
    blocks = [bytearray(64 * 1024) for _ in range(800)]  # 50 MB below the mmap threshold: a thread's arena
    del blocks

thread = threading.Thread(target=allocate_and_free)
thread.start()
thread.join()
memory.trim()
print(rss_mb() - before)
"""


@pytest.mark.parametrize("arenas", [memory.MALLOC_ARENAS, 8])
def test_memory_a_thread_freed_goes_back_after_a_trim(arenas):
    """Freed, those blocks form the top of the thread's arena, which malloc_trim leaves alone and glibc's
    raised trim threshold kept (50 MB stayed with a 64 MB threshold): the fixed trim threshold gives it
    back. With the arena cap, and without it (a server's early threads made their arenas before the cap:
    seven of them in issue 9's measurement). In a fresh process, so that the allocator starts as a
    server's does."""
    code = SCENARIO.replace("ARENAS", str(arenas))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert float(out.stdout) < 10
