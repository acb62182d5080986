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


def test_the_all_in_one_app_leaves_libraries_of_rare_requests_unloaded() -> None:
    # biip (16 MB: GS1's company prefixes, unpacked at import) is for Digital Link requests and
    # pyproj (10 MB) for measuring a plot; a process serving a fair's page scans needs neither. They
    # load at their first use: a Digital Link parsed, a plot's area measured.
    code = """
import sys
from shared.settings import Settings
from deploy.allinone import create_allinone
create_allinone(Settings(database_url="sqlite+aiosqlite:///:memory:"))
print(sorted(m for m in ("biip", "pyproj") if m in sys.modules))
from services.lots.public.resolver import parse_item
parse_item("https://example.org/01/09506000134352/10/ABC1")
print(sorted(m for m in ("biip", "pyproj") if m in sys.modules))
from services.cooperatives.geo import validate_plot_geometry
ring = [[-76.500001, -6.500001], [-76.498001, -6.500001], [-76.498001, -6.498001], [-76.500001, -6.498001]]
plot = validate_plot_geometry({"type": "Polygon", "coordinates": [[*ring, ring[0]]]}, area_ha=None)
print(sorted(m for m in ("biip", "pyproj") if m in sys.modules), plot.area_ha > 0)
"""
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "['biip']"
    assert out[2] == "['biip', 'pyproj'] True"
