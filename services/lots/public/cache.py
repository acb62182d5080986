"""Public answers kept in memory until what they rest on changes.

An entry is valid for one *version*: the ledger's (events over the lot's lineage and when the last
was recorded) and the claims' (their JSON). A new event anywhere in the lineage, a correction or
a suspended certificate gives another version. Checking the version costs queries, so an entry
checked less than ``CHACRA_PUBLIC_REVALIDATE_SECONDS`` ago (default 1) is served as it is: during a
scan burst a lot's page is checked about once a second, and a change shows within that second.
Several processes each keep their own entries; they agree because the version comes from the
shared database.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from services.lots.public.schemas import PublicLot

DEFAULT_ENTRIES = 4096


@dataclass(slots=True)
class Entry:
    version: str
    lot_id: str
    lot: PublicLot
    checked_at: float
    pages: dict[str, bytes] = field(default_factory=dict)
    json: bytes | None = None

    def etag(self, variant: str) -> str:
        digest = hashlib.sha256(f"{self.version}|{variant}".encode()).hexdigest()[:32]
        return f'"{digest}"'


class PublicCache:
    def __init__(self, entries: int = DEFAULT_ENTRIES) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._size = entries

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
