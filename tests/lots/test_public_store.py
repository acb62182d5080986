"""The page store: answers' bytes in a file (in memory by default), read back exactly, never mixed up."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from services.lots.public import store as store_module
from services.lots.public.cache import ENTRY_OVERHEAD_BYTES, ERA_SECONDS, ROOM_TRIES, Entry, PublicCache
from services.lots.public.store import GRAIN, PageStore, StaleSlot, memory_bound
from tests.lots.calls import page_entry

PAGE = bytes(range(256)) * 24  # 6 KB


def test_bytes_come_back_exactly_and_freed_space_is_given_again() -> None:
    store = PageStore(max_bytes=1 << 20)
    first = store.put(b"a" * 1000)
    second = store.put(PAGE)
    assert first is not None and second is not None
    assert store.read(first) == b"a" * 1000 and store.read(second) == PAGE
    assert store.read(second, 256, 10) == PAGE[256:266]
    assert store.used == store.end == 4 * GRAIN + len(PAGE)
    store.free(first)
    store.free(first)  # twice: nothing more
    again = store.put(b"b" * 900)  # the same size class: the freed space, not the file's end
    assert again is not None and again.offset == first.offset and store.end == 4 * GRAIN + len(PAGE)
    with pytest.raises(StaleSlot):
        store.read(first)  # a slot given to other bytes never reads as them
    assert store.read(again) == b"b" * 900


def test_at_its_bound_the_store_refuses_or_takes_the_smallest_larger_freed_slot() -> None:
    store = PageStore(max_bytes=8 * GRAIN)
    small = store.put(b"s" * GRAIN)
    big = store.put(b"B" * 3 * GRAIN)
    bigger = store.put(b"G" * 4 * GRAIN)
    assert small and big and bigger and store.end == 8 * GRAIN
    assert store.put(b"x" * 2 * GRAIN) is None
    store.free(bigger)
    store.free(big)
    taken = store.put(b"x" * 2 * GRAIN)
    assert taken is not None and taken.offset == big.offset  # 3 grains, not 4
    store.free(taken)
    assert store.used == GRAIN  # the whole freed slot came back


def entry(code: str) -> Entry:
    return page_entry(code, PAGE + code.encode(), json=b'{"code":"' + code.encode() + b'"}')


def test_a_cached_entry_keeps_its_bytes_in_the_store_and_reads_each_back() -> None:
    cache = PublicCache(store=PageStore(max_bytes=1 << 20))
    stored = entry("A")
    cache.put("A", stored)
    assert not stored.blobs.held and stored.weight() == ENTRY_OVERHEAD_BYTES
    assert stored.json == b'{"code":"A"}'
    assert stored.page("es") == PAGE + b"A" and stored.page("en") is None
    gz = stored.gzipped_page("es")
    assert gz is not None and gz[:2] == b"\x1f\x8b"
    stored.add_page("en", PAGE[::-1])  # a second language, rendered later: all of it still reads
    assert stored.page("en") == PAGE[::-1] and stored.page("es") == PAGE + b"A"
    assert stored.json == b'{"code":"A"}' and not stored.blobs.held


def test_a_full_store_lets_the_least_recently_asked_entries_go() -> None:
    one = len(b"".join(entry("A").blobs.held.values()))
    store = PageStore(max_bytes=3 * -(-one // GRAIN) * GRAIN)
    now = [0.0]
    cache = PublicCache(store=store, clock=lambda: now[0])
    for code in "ABC":
        cache.put(code, entry(code))
    now[0] += ERA_SECONDS  # asked later than the era they were stored in
    gone = cache.get("B")
    cache.get("C")
    assert cache.get("A") is not None  # asked last: now the most recent, B the least
    cache.put("D", entry("D"))
    assert cache.get("B") is None and all(cache.get(code) for code in "ACD")
    assert gone is not None and gone.page("es") is None  # its space is another's now
    assert not gone.has_page("es") and gone.blobs.store is None
    for code in "ACD":
        kept = cache.get(code)
        assert kept is not None and kept.page("es") == PAGE + code.encode()


def test_an_entry_built_again_frees_the_old_ones_space() -> None:
    store = PageStore(max_bytes=1 << 20)
    cache = PublicCache(store=store)
    cache.put("A", entry("A"))
    used = store.used
    cache.put("A", entry("A"))
    assert store.used == used and len(cache) == 1
    cache.close()
    assert store.used == 0 and len(cache) == 0


def test_a_full_store_lets_a_few_entries_go_at_most_and_keeps_what_does_not_fit_in_memory() -> None:
    one = len(b"".join(entry("A").blobs.held.values()))
    store = PageStore(max_bytes=6 * -(-one // GRAIN) * GRAIN)
    cache = PublicCache(store=store)
    for code in "ABCDEF":
        cache.put(code, entry(code))
    assert not any(cache.get(code).blobs.held for code in "ABCDEF")  # type: ignore[union-attr]
    grown = cache.get("F")
    assert grown is not None
    grown.add_page("en", PAGE * 3)  # needs a slot larger than any freed one can be
    cache.grew(grown)
    # A few of the oldest went; no slot that large came free, so its bytes stay in memory, counted.
    assert len(cache) == 6 - ROOM_TRIES
    assert grown.blobs.held and grown.weight() > ENTRY_OVERHEAD_BYTES + 3 * len(PAGE)
    assert cache.bytes == sum(e.weight() for e in (cache.get(c) for c in "ABCDEF") if e is not None)
    assert grown.page("en") == PAGE * 3 and grown.page("es") == PAGE + b"F" and grown.json == b'{"code":"F"}'


def test_a_store_that_cannot_write_keeps_the_bytes_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    store = PageStore(max_bytes=1 << 20)
    cache = PublicCache(store=store)

    def disk_full(*_args: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", disk_full)
    kept = entry("A")
    cache.put("A", kept)
    assert kept.blobs.held and store.end == 0 and store.used == 0 and store.failing
    assert kept.page("es") == PAGE + b"A"
    monkeypatch.undo()
    cache.put("B", entry("B"))
    assert not store.failing and store.used > 0


def test_the_store_is_a_file_in_memory_unless_a_directory_is_given(tmp_path: Path) -> None:
    in_memory = PageStore(max_bytes=1 << 20)
    on_disk = PageStore(max_bytes=1 << 20, directory=str(tmp_path))
    try:
        # A memfd: no file system holds it, so a kernel reclaiming cold page cache cannot drop it.
        assert in_memory.in_memory and os.readlink(f"/proc/self/fd/{in_memory.fd}").startswith("/memfd:")
        assert not on_disk.in_memory and list(tmp_path.iterdir()) == []  # unlinked at once
        assert os.readlink(f"/proc/self/fd/{on_disk.fd}").startswith(str(tmp_path))
        for store in (in_memory, on_disk):
            slot = store.put(PAGE)
            assert slot is not None and store.read(slot) == PAGE
    finally:
        in_memory.close()
        on_disk.close()


def test_a_store_in_memory_takes_at_most_a_quarter_of_the_machines_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = {"SC_PHYS_PAGES": 262_144, "SC_PAGE_SIZE": 4096}  # a machine of 1 GiB
    monkeypatch.setattr(os, "sysconf", lambda name: sizes[name])
    monkeypatch.setattr(store_module, "CGROUP_LIMITS", ())
    assert memory_bound(2048 << 20) == 256 << 20
    assert memory_bound(100 << 20) == 100 << 20
    assert PageStore(max_bytes=2048 << 20).max_bytes == 256 << 20
    assert PageStore(max_bytes=2048 << 20, directory=tempfile.gettempdir()).max_bytes == 2048 << 20


def test_a_containers_memory_limit_bounds_the_store_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sizes = {"SC_PHYS_PAGES": 16 * 262_144, "SC_PAGE_SIZE": 4096}  # a host of 16 GiB
    monkeypatch.setattr(os, "sysconf", lambda name: sizes[name])
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(store_module, "CGROUP_LIMITS", (str(v2), str(v1)))
    assert memory_bound(8 << 30) == 4 << 30  # no limit file: a quarter of the host
    v2.write_text("max\n")  # cgroup v2 without a limit
    assert memory_bound(8 << 30) == 4 << 30
    v1.write_text(f"{1 << 30}\n")  # a container of 1 GiB (cgroup v1)
    assert memory_bound(8 << 30) == 256 << 20
    v2.write_text(f"{512 << 20}\n")  # the smaller limit counts
    assert memory_bound(8 << 30) == 128 << 20
