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
    """Scans not yet written, by day then lot: a scan adds one to an int under its lot's id — no
    object is made per scan that the garbage collector would have to walk until the flush."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._days: dict[date, dict[str, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._clock = clock
        # Today's counts (in self._days) and when today ends, in seconds since the epoch: a scan
        # burst records thousands a second, so the day is worked out once per day (and per flush).
        self._today: dict[str, int] = {}
        self._today_ends = -math.inf

    def record(self, lot_id: str) -> None:
        counts = self._today if time.time() < self._today_ends else self._counts_now()
        counts[lot_id] = counts.get(lot_id, 0) + 1

    def add(self, lot_id: str, day: date, n: int = 1) -> None:
        """``n`` scans of the lot on ``day`` (a flush put back; tests)."""
        counts = self._days.setdefault(day, {})
        counts[lot_id] = counts.get(lot_id, 0) + n

    def _counts_now(self) -> dict[str, int]:
        if self._clock is not None:  # a clock given (tests): its day, asked at every scan
            return self._days.setdefault(scan_day(self._clock()), {})
        now = time.time()
        day = scan_day(datetime.fromtimestamp(now, UTC))
        midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), SCAN_TIMEZONE)
        self._today = self._days.setdefault(day, {})
        self._today_ends = midnight.timestamp()
        return self._today

    @property
    def pending(self) -> int:
        return sum(sum(counts.values()) for counts in self._days.values())

    def pending_of(self, lot_id: str) -> dict[date, int]:
        return {day: counts[lot_id] for day, counts in self._days.items() if lot_id in counts}

    async def flush(self, db: Database) -> None:
        if not self._days:
            return
        taken, self._days = self._days, {}
        self._today_ends = -math.inf  # today's counts are taken too: the next scan starts anew
        try:
            async with db.transaction() as session:
                await repository.add_scans(session, taken)
        except BaseException:
            # Also on cancellation (a shutdown, a request timeout): the transaction was rolled
            # back, so the counts taken are put back for the next flush instead of vanishing.
            for day, counts in taken.items():
                for lot_id, n in counts.items():
                    self.add(lot_id, day, n)
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
