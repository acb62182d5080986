"""Scan counters: written whatever their number, never lost on stop, dated in Peru."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.allinone import AllInOne
from services.lots.models import LotScan
from services.lots.public.scans import ScanCounter
from shared.db import Database
from tests.factories import Origin
from tests.lots.calls import HeadersFor, event

# More (lot, day) keys than one INSERT may bind on PostgreSQL: psycopg allows 65,535 parameters and a
# row takes three (SQLite's limit depends on how it was built: 32,766 by default).
MANY_KEYS = 22_500


class SlowDatabase:
    """A database whose transactions wait for a signal once opened: a flush caught mid-way."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.opened = asyncio.Event()
        self.release = asyncio.Event()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.database.transaction() as session:
            self.opened.set()
            await self.release.wait()
            yield session


async def stored(database: Database, lot_id: str) -> tuple[int, int]:
    """Rows and total scans stored for the lot."""
    async with database.read_sessions() as session:
        rows, total = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(LotScan.scans), 0)).where(
                    LotScan.lot_id == lot_id
                )
            )
        ).one()
    return int(rows), int(total)


def lots_database(platform: AllInOne) -> Database:
    database: Database = platform.apps["lots"].state.database
    return database


async def test_a_flush_of_more_keys_than_one_statement_may_bind_is_written(
    platform: AllInOne, lot: dict[str, Any]
) -> None:
    counter = ScanCounter()
    first = date(1970, 1, 1)
    for offset in range(MANY_KEYS):
        counter.add(lot["id"], first + timedelta(days=offset))
    database = lots_database(platform)
    await counter.flush(database)
    assert counter.pending == 0
    assert await stored(database, lot["id"]) == (MANY_KEYS, MANY_KEYS)
    # Added to the rows already there.
    for offset in range(MANY_KEYS):
        counter.add(lot["id"], first + timedelta(days=offset), 2)
    await counter.flush(database)
    assert await stored(database, lot["id"]) == (MANY_KEYS, 3 * MANY_KEYS)


async def test_stop_during_a_flush_waits_for_it_and_loses_no_count(
    platform: AllInOne, lot: dict[str, Any]
) -> None:
    database = lots_database(platform)
    slow = SlowDatabase(database)
    counter = ScanCounter()
    for _ in range(3):
        counter.record(lot["id"])
    counter.start(cast(Database, slow), every=0.01)
    await asyncio.wait_for(slow.opened.wait(), timeout=5)
    assert counter.pending == 0  # taken by the flush in progress
    counter.record(lot["id"])  # a scan while the flush runs: written by stop()'s own flush
    stopping = asyncio.create_task(counter.stop(cast(Database, slow)))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # stop() lets the flush finish instead of cancelling it
    slow.release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert counter.pending == 0
    assert await stored(database, lot["id"]) == (1, 4)


async def test_a_cancelled_flush_puts_its_counts_back(platform: AllInOne, lot: dict[str, Any]) -> None:
    database = lots_database(platform)
    slow = SlowDatabase(database)
    counter = ScanCounter()
    counter.record(lot["id"])
    counter.record(lot["id"])
    flushing = asyncio.create_task(counter.flush(cast(Database, slow)))
    await asyncio.wait_for(slow.opened.wait(), timeout=5)
    flushing.cancel()
    await asyncio.gather(flushing, return_exceptions=True)
    assert flushing.cancelled()
    assert counter.pending == 2
    await counter.flush(database)
    assert await stored(database, lot["id"]) == (1, 2)


def test_a_scan_is_dated_by_the_day_in_peru() -> None:
    evening_in_lima = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)  # 22:30 on the 25th in Lima (UTC−5)
    morning_in_lima = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # 00:00 on the 26th in Lima
    now = [evening_in_lima]
    counter = ScanCounter(clock=lambda: now[0])
    counter.record("lot_1")
    now[0] = morning_in_lima
    counter.record("lot_1")
    assert counter.pending_of("lot_1") == {date(2026, 11, 25): 1, date(2026, 11, 26): 1}


async def test_the_exporter_holding_the_lot_reads_its_scans_another_exporter_does_not(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any], headers_for: HeadersFor
) -> None:
    await event(api, origin.headers, lot["id"], type="handover", to_organization="org_holder")
    for _ in range(2):
        assert (await api.get(f"/l/{lot['code']}")).status_code == 200
    holder = headers_for("exporter", organization="org_holder")
    scans = await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=holder)
    assert scans.status_code == 200, scans.text
    assert scans.json()["total"] == 2
    other = headers_for("exporter", organization="org_other")
    assert (await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=other)).status_code == 404
