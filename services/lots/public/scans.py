"""Scans of a lot's QR code, counted per lot and day — no IP address, no cookie, nothing personal.

A scan burst at a trade fair must not queue page views behind the database's write lock (SQLite has
a single writer), so a page view only adds to a counter in memory; the counters are written in one
statement every few seconds and when the process stops. What a hard crash can lose is the last
few seconds of counts — never a ledger entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import date

from services.lots.public import repository
from shared.db import Database, utcnow

logger = logging.getLogger("chacra.scans")
FLUSH_SECONDS = 2.0


class ScanCounter:
    def __init__(self) -> None:
        self._pending: Counter[tuple[str, date]] = Counter()
        self._task: asyncio.Task[None] | None = None

    def record(self, lot_id: str) -> None:
        self._pending[(lot_id, utcnow().date())] += 1

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    def pending_of(self, lot_id: str) -> dict[date, int]:
        return {day: n for (lot, day), n in self._pending.items() if lot == lot_id}

    async def flush(self, db: Database) -> None:
        if not self._pending:
            return
        taken, self._pending = self._pending, Counter()
        try:
            async with db.transaction() as session:
                await repository.add_scans(session, dict(taken), sqlite=db.is_sqlite)
        except Exception:
            self._pending.update(taken)  # kept for the next flush
            raise

    def start(self, db: Database, every: float = FLUSH_SECONDS) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await self.flush(db)
                except Exception:  # a busy database: the counts wait for the next round
                    logger.warning("could not write scan counts", exc_info=True)

        self._task = asyncio.create_task(loop())

    async def stop(self, db: Database) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush(db)
