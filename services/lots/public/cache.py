"""Public answers kept in memory until what they rest on changes.

An entry is valid for one *version*: the ledger's (events over the lot's lineage and when the last
was recorded) and the claims'. Checking a version costs queries, so entries are not checked one by
one: the change watch (watch.py) reads, once per ``CHACRA_PUBLIC_REVALIDATE_SECONDS`` (default 5),
which lots had new events and which lots descend from them, and whether certification's claims
moved, and marks what it found. An entry checked after the last mark on its lot (and after the last
claims mark) is served as it is, by the fast path, whatever the number of pages cached; a marked one
is checked again at its next request — and kept when its version did not move. A reload that asks
past caches (``Cache-Control: no-cache``: Ctrl-F5, a manager checking a change) checks at once.
When the watch is not running or has not polled lately (a window of 0 in tests; a database that does
not answer) every request checks. Several processes each keep their own entries and their own
watch; they agree because both read the shared database.

Entries hold bytes, not objects: the lot's JSON and each rendered page (plain and gzip), so pages
add nothing for the garbage collector to walk — and those bytes live in the page store (store.py),
a memfd outside the process, so 50,000 lots keep ~65 MB in the process, not 600.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from services.lots.public.i18n import LANGUAGES
from services.lots.public.schemas import PublicLot
from services.lots.public.store import Blobs, PageStore

DEFAULT_BYTES = 32 * 1024 * 1024
# What an entry costs in memory beyond the bytes it holds there: the object, its strings, where its
# bytes lie in the store, the cache's own bookkeeping (measured: ~1,280 with 20,000 entries).
ENTRY_OVERHEAD_BYTES = 1280
# Registry facts shown on the page (a cooperative's name) are read when the page is built: a page is
# built again at least this often, so a renamed cooperative shows within the hour.
MAX_AGE_SECONDS = 3600.0
# Browsers and apps may keep a page a minute, then must ask again (an ETag makes that cheap).
CACHE_CONTROL = "public, max-age=60, must-revalidate"
GZIP_MIN_BYTES = 1024
# A watch that has not polled for this many of its intervals is not trusted: entries are checked.
TRUST_INTERVALS = 3
# Pages built at once; more wait. Building is CPU work on one core: more at once only holds more
# lineages in memory.
BUILDS_AT_ONCE = 4
# Entries let go to make room in a full page store for one entry, at most.
ROOM_TRIES = 4
# An entry asked again within this many seconds of being made the most recent stays where it is:
# the order is least recently asked to within these seconds, and a scan burst does not relink
# the cache's list at every request (~4 entries' worth of memory read at random, per answer).
ERA_SECONDS = 10.0
RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Entry:
    # What the ETag is made of beyond ``checked_key``: digests of the claims and registry facts shown.
    facts: InitVar[str]
    checked_key: str  # what a check compares: the ledger's version and the claims
    lot_id: str
    code: str
    gtin: str | None
    updated_at: InitVar[datetime]  # kept as the Last-Modified header's bytes
    blobs: Blobs  # the PublicLot's JSON, as the JSON route sends it, and each rendered page
    checked_at: float  # when the check that gave this entry started (monotonic clock)
    built_at: float = 0.0
    # False when the page says the claims are temporarily unavailable: then it is asked again
    # within an interval of the watch, not served as it is for the hour.
    claims_available: bool = True
    counted: int = 0  # the weight the cache counted for it (cache.put)
    era: int = -1  # the cache's era when it was last made the most recent (cache.get)
    # Made once: formatting a date per answer cost ~2 µs, a few percent of a burst's throughput.
    last_modified: bytes = field(init=False, default=b"")
    # Every ETag of the entry starts with this digest of its version — the ledger's, the claims', the
    # facts shown — and of the code's release (after an upgrade a browser's copy is not "fresh").
    # Made once: hashing per answer cost ~2 µs of a burst's ~70 µs a page.
    tag: bytes = field(init=False, default=b"")

    def __post_init__(self, facts: str, updated_at: datetime) -> None:
        self.last_modified = format_datetime(updated_at, usegmt=True).encode("latin-1")
        version = f"{self.checked_key}|{facts}|{release()}"
        self.tag = hashlib.sha256(version.encode()).hexdigest()[:TAG_DIGITS].encode("ascii")

    def weight(self) -> int:
        """Bytes held in memory: what is not in the store, and the bookkeeping around it."""
        held = self.blobs.held_bytes()
        # One int object for every entry whose bytes are all in the store, not one each.
        return held + ENTRY_OVERHEAD_BYTES if held else ENTRY_OVERHEAD_BYTES

    @property
    def json(self) -> bytes:
        found = self.blobs.get("json")
        assert found is not None, "an entry is built with its JSON"
        return found

    @property
    def lot(self) -> PublicLot:
        """The lot as an object again (rendering another language; tests)."""
        return PublicLot.model_validate_json(self.json)

    def has_page(self, language: str) -> bool:
        return _PAGE[language] in self.blobs

    def page(self, language: str) -> bytes | None:
        return self.blobs.get(_PAGE[language])

    def etag(self, variant: str) -> str:
        """A strong tag per representation (RFC 9110 §8.8.3): the version's digest and the variant."""
        return self.raw_etag(VARIANT_TAGS[variant]).decode("ascii")

    def raw_etag(self, variant_tag: bytes) -> bytes:
        return b'"' + self.tag + variant_tag

    def headers(self, variant: str, *, vary: str = "Accept-Language, Accept-Encoding") -> dict[str, str]:
        return {
            "ETag": self.etag(variant),
            "Last-Modified": self.last_modified.decode("latin-1"),
            "Cache-Control": CACHE_CONTROL,
            "Vary": vary,
        }

    def add_page(self, language: str, page: bytes) -> None:
        """A rendered page, and its gzip form made once for every phone that asks (most do, over 3G)."""
        self.blobs.add(_PAGE[language], page)
        if len(page) >= GZIP_MIN_BYTES:
            self.blobs.add(_GZIP[language], gzip.compress(page, compresslevel=6, mtime=0))

    def gzipped_page(self, language: str) -> bytes | None:
        return self.blobs.get(_GZIP[language])

    def raw_not_modified(self, tag: bytes, request_id: bytes) -> RawHeaders:
        """The headers of a 304 as bytes, the same as the route's (with the request's id)."""
        return [
            (b"etag", tag),
            (b"last-modified", self.last_modified),
            _CACHE_CONTROL_FIELD,
            _VARY_FIELD,
            (b"x-request-id", request_id),
        ]

    def raw_ok(self, tag: bytes, length: int, request_id: bytes, *, gzipped: bool = False) -> RawHeaders:
        """The headers of a page sent whole (``length`` bytes) as bytes, the same as the route's
        (with the request's id). One list made at once: this runs at every scan."""
        found = [
            (b"etag", tag),
            (b"last-modified", self.last_modified),
            _CACHE_CONTROL_FIELD,
            _VARY_FIELD,
            _HTML,
            (b"content-length", b"%d" % length),
            (b"x-request-id", request_id),
        ]
        if gzipped:
            found.append(_GZIPPED)
        return found


_CACHE_CONTROL_FIELD = (b"cache-control", CACHE_CONTROL.encode("latin-1"))
_VARY_FIELD = (b"vary", b"Accept-Language, Accept-Encoding")
_HTML = (b"content-type", b"text/html; charset=utf-8")
_GZIPPED = (b"content-encoding", b"gzip")
_PAGE = {language: f"page-{language}" for language in LANGUAGES}
_GZIP = {language: f"gzip-{language}" for language in LANGUAGES}
# Hex digits of the version's digest in a tag: 96 bits, more than enough to tell versions of one lot apart.
TAG_DIGITS = 24
# What follows the digest in the tag of each variant an entry answers with (``raw_etag``).
VARIANT_TAGS = {
    variant: f'-{variant}"'.encode()
    for variant in (
        "json",
        *(f"page-{language}{zipped}" for language in LANGUAGES for zipped in ("", "-gzip")),
    )
}


@cache
def release() -> str:
    """This build of the public side: the package version and the templates' bytes."""
    try:
        package = version("chacra")
    except PackageNotFoundError:
        package = "source"
    templates = Path(__file__).parent / "templates"
    digest = hashlib.sha256(package.encode())
    for template in sorted(templates.glob("*.html")):
        digest.update(template.read_bytes())
    return digest.hexdigest()[:16]


class PublicCache:
    """Entries by lot code, least recently used first out once they hold more than ``max_bytes``
    (``CHACRA_PUBLIC_CACHE_MB``): a catalogue of thousands of pages stays within a known memory."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_BYTES,
        clock: Callable[[], float] = time.monotonic,
        *,
        store: PageStore | None = None,
    ) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        # Where entries' bytes go once stored (store.py); None: they stay in memory.
        self.store = store
        self._max_bytes = max_bytes
        self.bytes = 0
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.clock = clock
        # What the change watch found: when each lot's answers last changed (monotonic time), when
        # the claims last moved, and until when its silence about other lots can be trusted.
        self._marked: dict[str, float] = {}
        self._claims_marked = -math.inf
        self._trusted_until = -math.inf
        # Certification's claims version as the watch last read it (None: it could not be asked).
        self._claims_version: str | None = None
        self._claims_seen = False
        # How long an entry whose claims were unavailable is served before it is checked again.
        self.retry_seconds = 0.0
        self.builds = asyncio.Semaphore(BUILDS_AT_ONCE)
        self._era = 0
        self._era_ends = -math.inf

    def lock(self, code: str) -> asyncio.Lock:
        """One check or build of a lot's page at a time: a burst on a stale page waits for it."""
        found = self._locks.get(code)
        if found is None:
            found = asyncio.Lock()
            self._locks[code] = found
        return found

    def get(self, code: str) -> Entry | None:
        """The entry of a lot code (normalised), whatever its version."""
        entry = self._entries.get(code)
        if entry is not None and entry.era != self._current_era():
            entry.era = self._era
            self._entries.move_to_end(code)
        return entry

    def _current_era(self) -> int:
        now = self.clock()
        if now >= self._era_ends:
            self._era += 1
            self._era_ends = now + ERA_SECONDS
        return self._era

    def put(self, code: str, entry: Entry) -> None:
        """Store (or store again, after a page was added to it) the entry of a code."""
        replaced = self._entries.get(code)
        if replaced is not None and replaced is not entry:
            self.bytes -= replaced.counted
            replaced.counted = 0
            replaced.blobs.release()
        self._entries[code] = entry
        self._entries.move_to_end(code)
        entry.era = self._current_era()
        if self.store is not None and not entry.blobs.move_to(self.store):
            # The file is at its bound: a few of the oldest entries go to make room. Freed slots
            # may all be smaller than these bytes (a second language doubles an entry): then they
            # stay in memory, counted there, rather than the whole cache going for them.
            for _ in range(ROOM_TRIES):
                if len(self._entries) <= 1:
                    break
                self._let_oldest_go()
                if entry.blobs.move_to(self.store):
                    break
        weight = entry.weight()
        self.bytes += weight - entry.counted
        entry.counted = weight
        while self.bytes > self._max_bytes and len(self._entries) > 1:
            self._let_oldest_go()

    def _let_oldest_go(self) -> None:
        _, entry = self._entries.popitem(last=False)
        self.bytes -= entry.counted
        entry.counted = 0
        entry.blobs.release()

    def grew(self, entry: Entry) -> None:
        """The entry gained a page: count its new weight (unless it was replaced or evicted since)."""
        if self._entries.get(entry.code) is entry:
            self.put(entry.code, entry)

    def fresh(self, entry: Entry, now: float | None = None) -> bool:
        """Whether the entry may be served without a check: the watch is polling, has seen no change
        to the lot, its lineage or the claims since the entry's check began, the page is less than
        an hour old, and it has its claims (or was checked less than a watch interval ago)."""
        now = self.clock() if now is None else now
        checked = entry.checked_at
        return (
            now < self._trusted_until
            and checked > self._claims_marked
            and checked > self._marked.get(entry.lot_id, -math.inf)
            and now - entry.built_at < MAX_AGE_SECONDS
            and (entry.claims_available or now - checked < self.retry_seconds)
        )

    def mark_lots(self, lot_ids: Iterable[str], at: float) -> None:
        """These lots' answers may have changed at or before ``at``: check before serving them again.

        Marks are kept by lot, not by cached entry, so a page being built while the change was
        found is checked again too. A mark older than an hour can go: an entry checked before it
        was built before it, and is rebuilt anyway.
        """
        marked = self._marked
        for lot_id in lot_ids:
            if marked.get(lot_id, -math.inf) < at:
                marked[lot_id] = at
        horizon = at - MAX_AGE_SECONDS
        if len(self._marked) > 4 * len(self._entries) + 1024 and any(t < horizon for t in marked.values()):
            self._marked = {k: t for k, t in marked.items() if t >= horizon}

    def mark_claims(self, at: float) -> None:
        """Certification's claims moved: every entry's claims are asked again at its next request."""
        self._claims_marked = max(self._claims_marked, at)

    def saw_claims_version(self, version: str | None) -> None:
        """The claims version the watch read at its last poll."""
        self._claims_version = version
        self._claims_seen = True

    def claims_version(self, now: float) -> tuple[bool, str | None]:
        """(True, the version the watch last read) while the watch is trusted and has read one, else
        (False, None): then the caller asks certification itself.

        A page checked or built with it is safe even if the claims moved since that poll: the next
        poll sees the new version and marks the claims later than the check began, so the page is
        checked again (cache.fresh) — at most one interval late, as any change.
        """
        if self._claims_seen and now < self._trusted_until:
            return True, self._claims_version
        return False, None

    def trust_until(self, until: float) -> None:
        """The watch polled: changes made before its poll began are marked; trust it until ``until``."""
        self._trusted_until = until

    def distrust(self) -> None:
        self._trusted_until = -math.inf

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        """Let every entry go and close the store (shutdown)."""
        for entry in self._entries.values():
            entry.blobs.release()
        self._entries.clear()
        self.bytes = 0
        if self.store is not None:
            self.store.close()
            self.store = None
