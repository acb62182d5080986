"""Process-level memory settings for a server process."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger("chacra.memory")
# glibc's mallopt parameter for the number of malloc arenas (malloc.h: #define M_ARENA_MAX -8).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas; returns whether the cap is in force.

    glibc gives threads their own arenas (up to eight per core), and memory freed in one stays
    there: the database driver's threads (aiosqlite runs one per connection) each keep a few
    megabytes nobody uses again. Two arenas kept the all-in-one process at ~220 MB instead of
    ~255 MB through a scan burst (bench/scan_burst.py), at no measurable cost in throughput; one
    arena (the default since) took another 9 MB off 10,000 pages built ahead (212 → 203 MB), and
    built them no slower: the event loop and the database threads rarely allocate at once. The same
    as ``MALLOC_ARENA_MAX``, but set by the process itself, before its threads start. Anything but
    glibc (musl, macOS) is left as it is. ``arenas`` 0: leave glibc's default.
    """
    if arenas <= 0:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_ARENA_MAX, arenas) != 1:
        logger.warning("could not limit malloc arenas to %d", arenas)
        return False
    return True
