"""Large tensors reuse freed memory instead of fresh pages from the kernel (glibc's allocator).

glibc serves an allocation above its mmap threshold (at most 32 MiB) with fresh pages from the kernel and
hands them back when the tensor is freed; the next tensor of that size faults every page in again and the
kernel zeroes it. Generation makes such a tensor at every decoding step: the vocabulary projection's
logits, 38 MB at 193 rows of SmolLM2-135M, cost 48.5 ms a step where the same product into reused memory
costs 28.7 ms (training's logits, 250 MB a step at 8 x 160 tokens, likewise). :func:`keep_freed_memory`
raises both thresholds (mmap and trim) to 1 GiB, so freed memory stays in the process for the next tensor; the
process's peak memory is what its tensors need at their peak, but it is not returned while the process lives.

The command line calls it once at start (and a sweep's jobs, in their own processes); ``SAFEMIX_KEEP_FREED_MEMORY=0``
turns it off. Where the C library is not glibc, nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds to :data:`THRESHOLD` (once per process); True when it did."""
    if os.environ.get("SAFEMIX_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
