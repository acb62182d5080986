"""Every SQL statement of the public side: what the page shows, its version, and scan counters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.lots.models import Fair, LotEvent, LotEventLot, LotScan
from services.lots.repository import AnyRow, ancestor_ids, ancestor_ids_statement
from shared.pagination import AnySelect


@cache
def _version_statement(dialect: str) -> AnySelect:
    # Built once per dialect with a bound lot id: building this recursive statement costs more
    # Python than running it, and revalidating a cached page must be cheap (public/cache.py).
    lot_id = bindparam("lot_id", type_=String)
    lots = ancestor_ids_statement(lot_id, postgresql=dialect == "postgresql")
    involved = select(LotEventLot.event_id).where(LotEventLot.lot_id.in_(lots))
    return select(func.count(), func.max(LotEvent.recorded_at)).where(LotEvent.id.in_(involved))


async def lineage_version(session: AsyncSession, lot_id: str) -> tuple[int, Any]:
    """How many events touched the lot and its ancestors, and when the last was recorded.

    The ledger only grows, so this pair changes exactly when something the public page shows
    could have changed (a new event, a correction, a new ancestor) — the page's cache key.
    """
    bind = session.bind
    statement = _version_statement(bind.dialect.name if bind is not None else "")
    count, last = (await session.execute(statement, {"lot_id": lot_id})).one()
    return int(count), last


async def journey_events(session: AsyncSession, lot_id: str, types: Sequence[str]) -> Sequence[AnyRow]:
    """Standing events of ``types`` over the lot's lineage, grouped: how many, first and last time.

    Grouped by type and process (fermentation, drying…) in the database: a container's lineage
    holds thousands of events, the page shows a handful of stages.
    """
    correction = aliased(LotEvent)
    involved = select(LotEventLot.event_id).where(LotEventLot.lot_id.in_(ancestor_ids(session, lot_id)))
    process = LotEvent.data["process"].as_string()
    stmt = (
        select(
            LotEvent.type,
            process.label("process"),
            func.count(),
            func.min(LotEvent.event_time),
            func.max(LotEvent.event_time),
        )
        .where(LotEvent.id.in_(involved), LotEvent.type.in_(list(types)))
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
        .group_by(LotEvent.type, process)
    )
    return (await session.execute(stmt)).all()


async def standing_events(session: AsyncSession, lot_id: str, types: Sequence[str]) -> Sequence[LotEvent]:
    """The lot's own standing (not corrected) events of ``types``, oldest first."""
    correction = aliased(LotEvent)
    stmt = (
        select(LotEvent)
        .join(LotEventLot, LotEventLot.event_id == LotEvent.id)
        .where(LotEventLot.lot_id == lot_id, LotEvent.type.in_(list(types)))
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
        .order_by(LotEvent.event_time, LotEvent.id)
    )
    return (await session.scalars(stmt)).all()


async def latest_lineage_quality(session: AsyncSession, lot_id: str) -> LotEvent | None:
    """The most recent standing quality event of the lot or, failing that, of its ancestors."""
    correction = aliased(LotEvent)
    involved = select(LotEventLot.event_id).where(LotEventLot.lot_id.in_(ancestor_ids(session, lot_id)))
    stmt = (
        select(LotEvent)
        .where(LotEvent.id.in_(involved), LotEvent.type == "quality")
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
        .order_by((LotEvent.lot_id == lot_id).desc(), LotEvent.event_time.desc(), LotEvent.id.desc())
        .limit(1)
    )
    event: LotEvent | None = await session.scalar(stmt)
    return event


async def fairs_by_id(session: AsyncSession, fair_ids: Iterable[str]) -> dict[str, Fair]:
    wanted = list(set(fair_ids))
    if not wanted:
        return {}
    return {f.id: f for f in (await session.scalars(select(Fair).where(Fair.id.in_(wanted)))).all()}


# psycopg binds at most 65,535 parameters per statement and a row takes three: one INSERT of every
# pending (lot, day) failed above ~21,800 keys, and kept failing as the put-back counts grew.
SCAN_ROWS_PER_STATEMENT = 5_000


async def add_scans(session: AsyncSession, counts: dict[tuple[str, date], int]) -> None:
    """Add to each (lot, day) counter: insert, or add to the row already there.

    Written in statements of ``SCAN_ROWS_PER_STATEMENT`` rows inside the caller's transaction, so a
    flush is still all or nothing.
    """
    if not counts:
        return
    bind = session.bind
    sqlite = bind is not None and bind.dialect.name == "sqlite"
    dialect_insert = sqlite_insert if sqlite else postgresql_insert
    rows = [{"lot_id": lot_id, "day": day, "scans": n} for (lot_id, day), n in counts.items()]
    for start in range(0, len(rows), SCAN_ROWS_PER_STATEMENT):
        stmt = dialect_insert(LotScan).values(rows[start : start + SCAN_ROWS_PER_STATEMENT])
        stmt = stmt.on_conflict_do_update(
            index_elements=[LotScan.lot_id, LotScan.day], set_={"scans": LotScan.scans + stmt.excluded.scans}
        )
        await session.execute(stmt)


async def scans_of(session: AsyncSession, lot_id: str) -> Sequence[LotScan]:
    stmt = select(LotScan).where(LotScan.lot_id == lot_id).order_by(LotScan.day)
    return (await session.scalars(stmt)).all()
