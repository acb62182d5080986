"""The bytes of cached public answers, kept outside the process's own memory.

A catalogue's pages weigh ~12 KB a lot (the JSON, the page plain and gzipped): 50,000 lots would be
600 MB of the process's memory. Kept in a store instead, what stays in the process is a few hundred
bytes of bookkeeping per lot, and reading a page back is one ``pread``: a few microseconds, less than
compressing or decompressing it would cost.

By default the store is a memfd: a file in memory, of no file system, that the kernel swaps (where
there is swap) but never drops. A file on disk (``CHACRA_PUBLIC_STORE_DIR``) holds pages in the
kernel's page cache only while they are used: kernels that reclaim cold page cache proactively drop
what was not read for a while — on this project's machines DAMON pages out file pages no process
maps that went untouched for a minute, whatever the free memory — and reading such a page back waits
for the disk, on the event loop (measured: ~30 µs a read instead of ~2.5, and a scan burst over
50,000 lots built ahead ran at half the rate until the pages were read back). A memory store is
bounded by a share of the machine's memory besides its own bound (``memory_bound``).

Either way the file is anonymous (a memfd, or ``tempfile.TemporaryFile``: unlinked at once), so
nothing outlives the process, a crash included: a restarted server builds its pages again, as it must
anyway to know they are current. Space is reused by size class (a page built again is about as long
as before); when the store reaches its bound the cache lets its least recently asked entries go
(cache.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
from functools import cache
from typing import IO, NamedTuple

logger = logging.getLogger("chacra.public")
# Space is given in steps of this many bytes: a page of 6,130 bytes and one of 6,200 share a class.
GRAIN = 256
# Size classes a slot's capacity can be in (capacity // GRAIN): up to 1 GB a slot.
_CLASSES = 1 << 22
# A store in memory takes at most this share of the memory the process may use, whatever its bound.
MEMORY_SHARE = 0.25
# Where a container's memory limit is read (cgroup v2, then v1): a container limited to 1 GB on a
# host of 64 GB must count with 1 GB.
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_bound(max_bytes: int) -> int:
    """``max_bytes``, or less where it would be more than its share of the machine's memory, or of
    the container's limit."""
    try:
        usable = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # not known here: the bound as given
        usable = max_bytes * 4
    for path in CGROUP_LIMITS:
        try:
            with open(path) as limit:
                usable = min(usable, int(limit.read()))
        except (OSError, ValueError):  # no such file, or "max": no limit there
            continue
    return min(max_bytes, int(usable * MEMORY_SHARE))


class Slot(NamedTuple):
    offset: int
    length: int
    serial: int  # which put wrote it: a slot freed and given again reads as stale, not as another page


class StaleSlot(LookupError):
    """A slot read after it was freed: a caller kept an evicted entry across an ``await``."""


def _capacity(length: int) -> int:
    return max(GRAIN, -(-length // GRAIN) * GRAIN)


class PageStore:
    """Blobs in an anonymous file (in memory, or on disk): ``put`` returns where, ``read`` gives
    the bytes back, ``free`` gives the space to the next blob of its size class."""

    def __init__(self, max_bytes: int, directory: str | None = None) -> None:
        """In memory (a memfd) unless ``directory`` is given, or the system has no memfd."""
        self.in_memory = directory is None and hasattr(os, "memfd_create")
        self._file: IO[bytes]
        if self.in_memory:
            self._file = os.fdopen(os.memfd_create("chacra-pages", os.MFD_CLOEXEC), "r+b", buffering=0)
            max_bytes = memory_bound(max_bytes)
        else:
            self._file = tempfile.TemporaryFile(prefix="chacra-pages-", dir=directory)  # noqa: SIM115 (held open)
        self.fd = self._file.fileno()
        self.max_bytes = max_bytes
        self.end = 0  # the file's length: every slot ever given lies below
        self.used = 0  # capacity of the slots in use
        self._free: dict[int, list[int]] = {}  # capacity -> offsets
        # offset -> its slot's serial and capacity in one int (serial * _CLASSES + capacity // GRAIN):
        # a tuple of two ints would cost ~80 bytes more per slot, 4 MB over 50,000 pages.
        self._in_use: dict[int, int] = {}
        self._serial = 0
        self.failing = False  # the last write failed (logged once until one succeeds)

    def put(self, data: bytes) -> Slot | None:
        """Write ``data``; None when the file is at its bound and no freed slot of the size is left."""
        capacity = _capacity(len(data))
        if capacity >= _CLASSES * GRAIN:
            return None
        if self._free.get(capacity):
            offset = self._free[capacity].pop()
        elif self.end + capacity <= self.max_bytes:
            offset = self.end
            self.end += capacity
        else:
            # At the bound: the smallest freed slot that is large enough, if any.
            larger = [c for c, offsets in self._free.items() if c > capacity and offsets]
            if not larger:
                return None
            capacity = min(larger)
            offset = self._free[capacity].pop()
        try:
            os.pwrite(self.fd, data, offset)
        except OSError:  # the disk is full before the bound: these bytes stay in memory
            if offset + capacity == self.end:
                self.end = offset
            else:
                self._free[capacity].append(offset)
            if not self.failing:
                logger.warning("public page store cannot write: pages stay in memory", exc_info=True)
            self.failing = True
            return None
        self.failing = False
        self.used += capacity
        self._serial += 1
        self._in_use[offset] = self._serial * _CLASSES + capacity // GRAIN
        return Slot(offset, len(data), self._serial)

    def read(self, slot: Slot, start: int = 0, length: int | None = None) -> bytes:
        """The slot's bytes, or ``length`` of them from ``start``."""
        found = self._in_use.get(slot.offset)
        if found is None or found // _CLASSES != slot.serial:
            raise StaleSlot(f"the slot at {slot.offset} was freed")
        return os.pread(self.fd, slot.length - start if length is None else length, slot.offset + start)

    def free(self, slot: Slot) -> None:
        self.free_at(slot.offset, slot.serial)

    def free_at(self, offset: int, serial: int) -> None:
        found = self._in_use.get(offset)
        if found is None or found // _CLASSES != serial:
            return  # freed already
        del self._in_use[offset]
        capacity = found % _CLASSES * GRAIN
        self._free.setdefault(capacity, []).append(offset)
        self.used -= capacity

    def close(self) -> None:
        self._file.close()


class Blobs:
    """An entry's bytes by name ("json", "page-es", "gzip-es"): in memory until the cache moves them
    to its store (store.py) as one slot, then read back from there, each alone, at each use.

    An entry let go frees its slot for other pages: its Blobs forgets the slot first, so a caller
    still holding the entry reads None (and renders the page again), never another lot's bytes.
    """

    __slots__ = ("held", "names", "store", "where")

    def __init__(self, **held: bytes) -> None:
        self.held: dict[str, bytes] = held or _NOTHING
        self.store: PageStore | None = None
        self.names: tuple[str, ...] = ()  # what the slot holds, in order…
        # …and where: the slot's offset and serial, then where each name's bytes start in it, and
        # where the last ends. One tuple of ints: a Slot and a tuple of ends would cost ~100 bytes
        # more per entry (5 MB over 50,000), and two more objects to fetch at each read.
        self.where: tuple[int, ...] = ()

    def get(self, name: str) -> bytes | None:
        found = self.held.get(name)
        if found is None and name in self.names:
            assert self.store is not None
            i = self.names.index(name)
            where = self.where
            start = where[2 + i]
            # Read as is, not through read's check of the slot's serial: a Blobs forgets where its
            # slot is before it frees it (release, move_to), so it never reads a freed slot — and
            # that check read ~4 more objects at random per answer of a scan burst.
            return os.pread(self.store.fd, where[3 + i] - start, where[0] + start)
        return found

    def __contains__(self, name: str) -> bool:
        return name in self.held or name in self.names

    def add(self, name: str, data: bytes) -> None:
        if self.held is _NOTHING:
            self.held = {}
        self.held[name] = data
        if self.store is not None:
            self.move_to(self.store)

    def move_to(self, store: PageStore) -> bool:
        """Write everything to ``store`` as one slot (with what it held before); False when the store
        is full, and then it all stays where it was."""
        if not self.held:
            return True
        everything = {name: self.get(name) or b"" for name in self.names} | self.held
        slot = store.put(b"".join(everything.values()))
        if slot is None:
            return False
        self.release()
        self.store = store
        self.names = _names(tuple(everything))
        where, at = [slot.offset, slot.serial, 0], 0
        for data in everything.values():
            at += len(data)
            where.append(at)
        self.where = tuple(where)
        self.held = _NOTHING
        return True

    def release(self) -> None:
        """The entry is let go: its slot goes back to the store, and a page rendered into it later
        (by a request that still holds it) stays in memory, with the entry."""
        if self.store is not None and self.where:
            self.store.free_at(self.where[0], self.where[1])
        self.store, self.names, self.where = None, (), ()

    def held_bytes(self) -> int:
        return sum(map(len, self.held.values()))


# What a Blobs holds in memory once all is in the store: one empty dict for all of them (50,000
# entries would each keep one otherwise). Never written to: ``add`` makes a dict of its own.
_NOTHING: dict[str, bytes] = {}


@cache
def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple per layout, shared by every entry that has it."""
    return names
