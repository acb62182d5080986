"""The server process caps glibc's malloc arenas itself."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from deploy.memory import limit_malloc_arenas


def test_zero_arenas_leaves_the_allocator_as_it_is() -> None:
    assert limit_malloc_arenas(0) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_on_glibc_the_cap_holds_and_threads_share_the_arenas() -> None:
    # In a fresh process: eight threads that each allocate would make eight arenas; capped at two,
    # glibc reports (malloc_info) no more than two.
    code = """
import ctypes, threading, os, tempfile
from deploy.memory import limit_malloc_arenas
assert limit_malloc_arenas(2)
def work():
    kept = [bytearray(4096) for _ in range(2000)]
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fflush.argtypes = [ctypes.c_void_p]
out = tempfile.TemporaryFile()
fp = libc.fdopen(os.dup(out.fileno()), b"w")
libc.malloc_info(0, fp); libc.fflush(fp)
out.seek(0)
print(out.read().decode().count("<heap nr="))
"""
    found = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(found.stdout.strip()) <= 2
