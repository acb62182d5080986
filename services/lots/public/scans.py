"""Scans of a lot's QR code, counted per lot and day — no IP address, no cookie, nothing personal.

A scan burst at a trade fair must not queue page views behind the database's write lock (SQLite has
a single writer), so a page view only adds to a counter in memory; the counters are written every
few seconds (in statements of a few thousand rows, one transaction) and when the process stops.
What a hard crash can lose is the last few seconds of counts — never a ledger entry.

A scan's day is the day in Peru (America/Lima, UTC−5 all year): the cooperatives read "scans per
day" in their own calendar, and a fair's evening in Lima is already tomorrow in UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.lots.public import repository
from shared.db import Database

logger = logging.getLogger("chacra.scans")
FLUSH_SECONDS = 2.0
SCAN_TIMEZONE = ZoneInfo("America/Lima")


def scan_day(moment: datetime) -> date:
    """The day a scan at ``moment`` (an aware datetime) is counted under: the date in Lima."""
    return moment.astimezone(SCAN_TIMEZONE).date()


class ScanCounter:
    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._pending: Counter[tuple[str, date]] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._clock = clock
        self._day = date.min
        self._day_ends = -math.inf  # when the day above ends, in seconds since the epoch

    def record(self, lot_id: str) -> None:
        key = (lot_id, self._today())
        self._pending[key] = self._pending.get(key, 0) + 1  # no Counter.__missing__ per first view

    def _today(self) -> date:
        if self._clock is not None:
            return scan_day(self._clock())
        # A scan burst asks this thousands of times a second: the day is worked out once per day.
        now = time.time()
        if now >= self._day_ends:
            self._day = scan_day(datetime.fromtimestamp(now, UTC))
            midnight = datetime.combine(self._day + timedelta(days=1), datetime.min.time(), SCAN_TIMEZONE)
            self._day_ends = midnight.timestamp()
        return self._day

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
                await repository.add_scans(session, dict(taken))
        except BaseException:
            # Also on cancellation (a shutdown, a request timeout): the transaction was rolled
            # back, so the counts taken are put back for the next flush instead of vanishing.
            self._pending.update(taken)
            raise

    def start(self, db: Database, every: float = FLUSH_SECONDS) -> None:
        self._stopping.clear()

        async def loop() -> None:
            while not self._stopping.is_set():
                # Waiting on the event, not sleeping: stop() wakes the loop at once, and the loop is
                # never cancelled, so a flush in progress always finishes (commits or puts back).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=every)
                if self._stopping.is_set():
                    return
                try:
                    await self.flush(db)
                except Exception:  # a busy database: the counts wait for the next round
                    logger.warning("could not write scan counts", exc_info=True)

        self._task = asyncio.create_task(loop())

    async def stop(self, db: Database) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        await self.flush(db)
