"""Pages built ahead: the lots an exporter prints labels for are the ones buyers will scan.

Building a page takes tens of milliseconds (lineage, provenance, the registry, the claims); at a
fair's opening the first scan of each bag would pay it. Printing a sheet of labels queues its lots
here, and one background task builds their pages, one at a time — so a print run of 500 labels
never takes the server from the buyers — and they are served from memory from the first scan on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from shared.errors import DomainError
from shared.observability import tally

logger = logging.getLogger("chacra.public")
# Ten sheets of the largest print run (500 labels): more waiting than that is dropped and those
# pages are built at their first scan, as without this.
MAX_WAITING = 5000
Build = Callable[[str], Awaitable[object]]
BUILT_AHEAD = tally(
    "chacra_public_pages_built_ahead_total", "Public pages built ahead, after their labels were printed."
)


class PageWarmer:
    def __init__(self, build: Build, max_waiting: int = MAX_WAITING) -> None:
        self._build = build
        self._max_waiting = max_waiting
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
        for code in codes:
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
                    code = next(iter(self._waiting))
                    try:
                        await self._build(code)
                        self.built += 1
                        BUILT_AHEAD.inc()
                    except DomainError:  # the lot is gone from view, a peer is down: its first scan builds it
                        logger.info("page of %s not built ahead", code, exc_info=True)
                    except Exception:  # never let one page stop the others
                        logger.exception("page of %s not built ahead", code)
                    self._waiting.pop(code, None)
                if not self._waiting:
                    self._idle.set()

        self._task = asyncio.create_task(loop())

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
