"""Pages built ahead: the lots an exporter prints labels for are the ones buyers will scan.

Building a page takes tens of milliseconds (lineage, provenance, the registry, the claims); at a
fair's opening the first scan of each bag would pay it. Printing a sheet of labels queues its lots
here, and one background task builds their pages, a batch at a time — the batch's claims asked of
certification in one request (claims.ClaimsBatch), the builds taking turns on the event loop, so a
print run of thousands of labels never takes the server from the buyers for long — and they are
served from memory from the first scan on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable

from services.lots.codes import normalise_code
from shared.errors import DomainError
from shared.observability import tally

logger = logging.getLogger("chacra.public")
# A season's labels of a large exporter: more waiting than that is dropped and those pages are built
# at their first scan, as without this. A code waiting costs ~100 bytes.
MAX_WAITING = 100_000
# Pages built together: their claims are one request; a buyer's scan waits at most for one batch's
# turn on the event loop between two of them.
BATCH = 32
# Pages built since the last full collection after which a drained queue collects the heap (below).
COLLECT_AFTER = 1000
# Builds the pages of the codes given; returns, for each, None or what stopped it.
Build = Callable[[list[str]], Awaitable[list[BaseException | None]]]
BUILT_AHEAD = tally(
    "chacra_public_pages_built_ahead_total", "Public pages built ahead, after their labels were printed."
)


class PageWarmer:
    def __init__(
        self,
        build: Build,
        max_waiting: int = MAX_WAITING,
        batch: int = BATCH,
        collect_after: int = COLLECT_AFTER,
    ) -> None:
        self._build = build
        self._max_waiting = max_waiting
        self._batch = batch
        self._collect_after = collect_after
        self._collected_at = 0  # self.built at the last collection
        self._waiting: dict[str, None] = {}  # codes in order, each once
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.built = 0

    def schedule(self, codes: Iterable[str]) -> int:
        """Queue these lot codes' pages; returns how many were taken (the rest wait for a scan)."""
        taken = 0
        # As the cache keys them: two spellings of one code in a batch would wait for each other.
        for code in map(normalise_code, codes):
            if code in self._waiting:
                continue
            if len(self._waiting) >= self._max_waiting:
                break
            self._waiting[code] = None
            taken += 1
        if self._waiting:
            self._idle.clear()
            self._wake.set()
        return taken

    def start(self) -> None:
        self._stopping = False

        async def loop() -> None:
            while not self._stopping:
                await self._wake.wait()
                self._wake.clear()
                while self._waiting and not self._stopping:
                    codes = list(itertools.islice(self._waiting, self._batch))
                    try:
                        outcomes = await self._build(codes)
                    except Exception as exc:  # never let one batch stop the others
                        outcomes = [exc] * len(codes)
                    for code, outcome in zip(codes, outcomes, strict=True):
                        if outcome is None:
                            self.built += 1
                            BUILT_AHEAD.inc()
                        elif isinstance(
                            outcome, DomainError
                        ):  # gone from view, a peer down: built at its scan
                            logger.info("page of %s not built ahead", code, exc_info=outcome)
                        else:
                            logger.error("page of %s not built ahead", code, exc_info=outcome)
                        self._waiting.pop(code, None)
                if not self._waiting:
                    self._settle()
                    self._idle.set()

        self._task = asyncio.create_task(loop())

    def _settle(self) -> None:
        """After a print run of many labels, one full collection of the heap, now — and what
        survives it is set aside (``gc.freeze``) from the collections after it.

        Building thousands of pages leaves the collector's oldest generation due for a full pass
        (CPython walks every tracked object once a quarter more have survived since the last one).
        Left alone, that pass comes at some later allocation — during the buyers' scans — and holds
        the event loop ~130 ms with 50,000 pages cached: the p99 of the burst after the print run
        (bench/scan_burst.py). Done here, it falls at the end of the exporter's print run; frozen,
        the cached entries and the app's own objects are not walked again by the passes the next
        builds make due. What was frozen and later becomes garbage in a cycle is only freed at the
        next settle (unfrozen, then collected): at most what was alive here, once.
        """
        if self.built - self._collected_at >= self._collect_after:
            self._collected_at = self.built
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    async def idle(self) -> None:
        """Wait until every queued page was built (tests, and a shutdown that wants them done)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Stop after the page being built; what still waits is left to its first scan."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._waiting.clear()
        self._idle.set()
