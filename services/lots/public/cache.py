"""Public answers kept in memory until what they rest on changes.

An entry is valid for one *version*: the ledger's (events over the lot's lineage and when the last
was recorded) and the claims' (their JSON). A new event anywhere in the lineage, a correction or
a suspended certificate gives another version. Checking the version costs queries, so an entry
checked less than ``CHACRA_PUBLIC_REVALIDATE_SECONDS`` ago (default 30) is served as it is: during a
scan burst a lot's page is checked twice a minute, and a change shows within that half minute —
the order of the 60 s browsers are told they may keep the page anyway. A reload that asks past
caches (``Cache-Control: no-cache``: Ctrl-F5, a manager checking a change) checks at once.
Several processes each keep their own entries; they agree because the version comes from the
shared database.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import format_datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from services.lots.public.schemas import PublicLot

DEFAULT_ENTRIES = 4096
# Registry facts shown on the page (a cooperative's name) are read when the page is built: a page is
# built again at least this often, so a renamed cooperative shows within the hour.
MAX_AGE_SECONDS = 3600.0
# Browsers and apps may keep a page a minute, then must ask again (an ETag makes that cheap).
CACHE_CONTROL = "public, max-age=60, must-revalidate"
GZIP_MIN_BYTES = 1024


@dataclass(slots=True)
class Entry:
    version: str  # what the ETag is made of
    checked_key: str  # what a check compares: the ledger's version and the claims
    lot_id: str
    lot: PublicLot
    checked_at: float
    built_at: float = 0.0
    pages: dict[str, bytes] = field(default_factory=dict)
    gzipped: dict[str, bytes] = field(default_factory=dict)
    json: bytes | None = None

    def etag(self, variant: str) -> str:
        # The code's own version is part of it: after an upgrade, a browser's old copy is not "fresh".
        key = f"{self.version}|{variant}|{release()}"
        return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'

    def headers(self, variant: str, *, vary: str = "Accept-Language, Accept-Encoding") -> dict[str, str]:
        return {
            "ETag": self.etag(variant),
            "Last-Modified": format_datetime(self.lot.updated_at, usegmt=True),
            "Cache-Control": CACHE_CONTROL,
            "Vary": vary,
        }

    def gzipped_page(self, language: str) -> bytes | None:
        """The page compressed once, for every phone that asks for gzip (most do, over 3G)."""
        page = self.pages.get(language)
        if page is None or len(page) < GZIP_MIN_BYTES:
            return None
        if language not in self.gzipped:
            self.gzipped[language] = gzip.compress(page, compresslevel=6, mtime=0)
        return self.gzipped[language]


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
    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._size = entries
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

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
        if entry is not None:
            self._entries.move_to_end(code)
        return entry

    def put(self, code: str, entry: Entry) -> None:
        self._entries[code] = entry
        self._entries.move_to_end(code)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
