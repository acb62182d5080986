"""The change watch: which cached public answers may have changed, found once per interval.

A page rests on the events of its lot and of the lot's ancestors, and on the claims. Rather than
checking each cached page against the ledger (a recursive query per page, per window — at a fair
with thousands of labelled bags that is most of the work), one poll per interval reads:

* the events recorded since the last poll (an index on ``recorded_at``), the lots they touched and
  every lot made from those, however far down: those pages are checked at their next request;
* certification's claims version (a count of the rows claims rest on): when it moves, every page
  asks for its claims again at its next request.

Events are read back ``MARGIN`` before the last poll began and recognised by id, so an event
written by a transaction that committed after a poll — its ``recorded_at`` taken when the request
began — is found by the next one; a transaction longer than the margin is not expected (requests
time out well before). The cost does not depend on how many pages are cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.lots.public import repository
from services.lots.public.cache import TRUST_INTERVALS, PublicCache
from services.lots.public.service import ClaimsVersionSource
from shared.db import utcnow

logger = logging.getLogger("chacra.public")
MARGIN = timedelta(seconds=60)
_UNKNOWN = object()


class ChangeWatch:
    def __init__(
        self,
        cache: PublicCache,
        sessions: async_sessionmaker[AsyncSession],
        *,
        every: float,
        claims_version: ClaimsVersionSource | None = None,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self._cache = cache
        cache.retry_seconds = every
        self._sessions = sessions
        self._every = every
        self._claims_version = claims_version
        self._wall = wall
        self._since: datetime | None = None
        self._seen: set[str] = set()
        self._claims: object = _UNKNOWN
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def poll(self) -> set[str]:
        """One look at the ledger and the claims; returns the lots marked."""
        clock = self._cache.clock
        started = clock()
        wall = self._wall()
        since = (self._since or wall) - MARGIN
        async with self._sessions() as session:
            rows = await repository.events_recorded_since(session, since)
            # Marked as of when the read returned, not when the poll began: a page check that
            # began in between may have read the ledger before the change committed.
            read_at = clock()
            new = [row for row in rows if row.id not in self._seen]
            touched = {
                lot for row in new for lot in (row.lot_id, row.touched, row.corrected) if lot is not None
            }
            changed = await repository.downstream(session, touched) if touched else set()
        self._cache.mark_lots(changed, read_at)
        mark = await self._claims_version() if self._claims_version is not None else None
        if mark != self._claims:
            # At the first poll too: entries built before the watch began are asked once.
            self._cache.mark_claims(clock())
            self._claims = mark
        self._cache.saw_claims_version(mark)
        self._seen = {row.id for row in rows}
        self._since = wall
        self._cache.trust_until(started + TRUST_INTERVALS * self._every)
        return changed

    def start(self) -> None:
        self._stopping.clear()

        async def loop() -> None:
            # The first poll after one interval: in the all-in-one process certification (whose
            # claims version the poll asks) starts after lots. Until then every request checks.
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self._every)
                if self._stopping.is_set():
                    return
                try:
                    await self.poll()
                except Exception:  # a busy or unreachable database: pages are checked one by one
                    logger.warning("public change watch could not poll", exc_info=True)

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        self._cache.distrust()
