"""Every SQL statement of the public side: what the page shows, its version, and scan counters."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, String, bindparam, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.lots.models import Fair, Lot, LotEdge, LotEvent, LotEventLot, LotScan
from services.lots.repository import AnyRow, ancestor_edges_cte, dialect_of
from shared.pagination import AnySelect

MOVEMENTS = ("merge", "split", "transformation")
# Scan counters written per statement execution (add_scans).
SCAN_ROWS_AT_ONCE = 1000


def _relevant_event_ids(lot_id: BindParameter[str], *, postgresql: bool) -> Any:
    """Ids of the events that made the lot what it is: all of its own, and those of each ancestor
    up to the moment the ancestor's kilos left toward the lot.

    An ancestor lives on after a bag is split off it: a later merge, a later quality check of what
    remained, are not the bag's history. The moment is the latest event of the lineage edges that
    leave the ancestor (a lot reached by two paths counts up to the later one).
    """
    walk = ancestor_edges_cte(lot_id, lateral=postgresql)
    until = (
        select(walk.c.parent.label("lot_id"), func.max(LotEvent.event_time).label("until"))
        .join(LotEvent, LotEvent.id == walk.c.event_id)
        .group_by(walk.c.parent)
        .cte("until_")
    )
    own = select(LotEventLot.event_id).where(LotEventLot.lot_id == lot_id)
    # Of an ancestor's movements, only those that carried kilos toward the lot (the walk's edges):
    # a split that bagged part of it for someone else is that bag's history, not this lot's.
    moved = select(walk.c.event_id)
    inherited = (
        select(LotEventLot.event_id)
        .join(until, until.c.lot_id == LotEventLot.lot_id)
        .join(LotEvent, LotEvent.id == LotEventLot.event_id)
        .where(LotEvent.event_time <= until.c.until, LotEvent.type.not_in(MOVEMENTS))
    )
    return own.union(inherited, moved)


def _standing() -> Any:
    correction = aliased(LotEvent)
    return ~exists().where(correction.corrects_event_id == LotEvent.id)


# Built once per dialect with a bound lot id: building these recursive statements costs more Python
# than running them, and revalidating a cached page must be cheap (public/cache.py).


@cache
def _version_statement(dialect: str) -> AnySelect:
    relevant = _relevant_event_ids(bindparam("lot_id", type_=String), postgresql=dialect == "postgresql")
    return select(func.count(), func.max(LotEvent.recorded_at)).where(
        or_(LotEvent.id.in_(relevant), LotEvent.corrects_event_id.in_(relevant))
    )


@cache
def _journey_statement(dialect: str) -> AnySelect:
    relevant = _relevant_event_ids(bindparam("lot_id", type_=String), postgresql=dialect == "postgresql")
    process = LotEvent.data["process"].as_string()
    return (
        select(
            LotEvent.type,
            process.label("process"),
            func.count(),
            func.min(LotEvent.event_time),
            func.max(LotEvent.event_time),
        )
        .where(LotEvent.id.in_(relevant), LotEvent.type.in_(bindparam("types", expanding=True)))
        .where(_standing())
        .group_by(LotEvent.type, process)
    )


@cache
def _quality_statement(dialect: str) -> AnySelect:
    lot_id = bindparam("lot_id", type_=String)
    relevant = _relevant_event_ids(lot_id, postgresql=dialect == "postgresql")
    return (
        select(LotEvent)
        .where(LotEvent.id.in_(relevant), LotEvent.type == "quality")
        .where(_standing())
        .order_by((LotEvent.lot_id == lot_id).desc(), LotEvent.event_time.desc(), LotEvent.id.desc())
        .limit(1)
    )


async def lineage_version(session: AsyncSession, lot_id: str) -> tuple[int, datetime | None]:
    """How many events made the lot what it is (and corrections of them), and the last recorded.

    The ledger only grows, so this pair changes exactly when something the public page shows
    could have changed (a new event of the lot, a correction anywhere in its history).
    """
    statement = _version_statement(dialect_of(session))
    count, last = (await session.execute(statement, {"lot_id": lot_id})).one()
    return int(count), last


async def journey_events(session: AsyncSession, lot_id: str, types: Sequence[str]) -> Sequence[AnyRow]:
    """Standing events of ``types`` in the lot's history, grouped: how many, first and last time.

    Grouped by type and process (fermentation, drying…) in the database: a container's lineage
    holds thousands of events, the page shows a handful of stages.
    """
    statement = _journey_statement(dialect_of(session))
    return (await session.execute(statement, {"lot_id": lot_id, "types": list(types)})).all()


async def standing_events(session: AsyncSession, lot_id: str, types: Sequence[str]) -> Sequence[LotEvent]:
    """The lot's own standing (not corrected) events of ``types``, oldest first."""
    stmt = (
        select(LotEvent)
        .join(LotEventLot, LotEventLot.event_id == LotEvent.id)
        .where(LotEventLot.lot_id == lot_id, LotEvent.type.in_(list(types)))
        .where(_standing())
        .order_by(LotEvent.event_time, LotEvent.id)
    )
    return (await session.scalars(stmt)).all()


async def latest_lineage_quality(session: AsyncSession, lot_id: str) -> LotEvent | None:
    """The most recent standing quality event of the lot or, failing that, of its history."""
    statement = _quality_statement(dialect_of(session))
    event: LotEvent | None = await session.scalar(statement, {"lot_id": lot_id})
    return event


async def fairs_by_id(session: AsyncSession, fair_ids: Iterable[str]) -> dict[str, Fair]:
    wanted = list(set(fair_ids))
    if not wanted:
        return {}
    return {f.id: f for f in (await session.scalars(select(Fair).where(Fair.id.in_(wanted)))).all()}


# The change watch (watch.py): a handful of rows per poll, whatever the number of pages cached.
DOWNSTREAM_IDS_PER_STATEMENT = 500


async def events_recorded_since(session: AsyncSession, since: datetime) -> Sequence[AnyRow]:
    """(event id, lot, touched, corrected) for each event recorded since ``since``: every lot it
    touched (subject, inputs, outputs) and, for a correction, every lot the corrected event touched
    — a corrected transformation changes its input's history too, not only its subject's."""
    corrected = aliased(LotEventLot)
    stmt = (
        select(
            LotEvent.id,
            LotEvent.lot_id,
            LotEventLot.lot_id.label("touched"),
            corrected.lot_id.label("corrected"),
        )
        .outerjoin(LotEventLot, LotEventLot.event_id == LotEvent.id)
        .outerjoin(corrected, corrected.event_id == LotEvent.corrects_event_id)
        .where(LotEvent.recorded_at >= since)
    )
    return (await session.execute(stmt)).all()


async def downstream(session: AsyncSession, lot_ids: Iterable[str]) -> set[str]:
    """The lots and every lot made from them, however far down (a recursive walk of the edges)."""
    wanted = sorted(set(lot_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), DOWNSTREAM_IDS_PER_STATEMENT):
        chunk = wanted[start : start + DOWNSTREAM_IDS_PER_STATEMENT]
        down = select(Lot.id.label("id")).where(Lot.id.in_(chunk)).cte("down", recursive=True)
        down = down.union(select(LotEdge.child_lot_id).join(down, LotEdge.parent_lot_id == down.c.id))
        found.update((await session.scalars(select(down.c.id))).all())
    return found


# One statement adds to many counters: the rows travel as one JSON parameter, so the driver binds
# one value and SQLite's thread runs the whole batch without Python. Executed row by row
# (executemany), a flush of 10,000 counters took the GIL back and forth 20,000 times between that
# thread and the event loop: ~20 µs more per page answered during a burst over every lot.
_ADD_SCANS = {
    "sqlite": text(
        "INSERT INTO lot_scans (lot_id, day, scans) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') "
        # WHERE true: without it SQLite would read ON CONFLICT as the join's ON.
        "FROM json_each(:rows) WHERE true "
        "ON CONFLICT (lot_id, day) DO UPDATE SET scans = lot_scans.scans + excluded.scans"
    ),
    "postgresql": text(
        "INSERT INTO lot_scans (lot_id, day, scans) "
        "SELECT value ->> 0, CAST(value ->> 1 AS date), CAST(value ->> 2 AS bigint) "
        "FROM jsonb_array_elements(CAST(:rows AS jsonb)) "
        "ON CONFLICT (lot_id, day) DO UPDATE SET scans = lot_scans.scans + excluded.scans"
    ),
}


async def add_scans(session: AsyncSession, counts: Mapping[date, Mapping[str, int]]) -> None:
    """Add to each counter (by day, then lot): insert, or add to the row already there.

    A statement per thousand counters (``SCAN_ROWS_AT_ONCE``), all inside the caller's transaction,
    so a flush is all or nothing: making the JSON of a chunk holds the event loop well under a
    millisecond, and a multi-row VALUES list would be compiled anew for every length.
    """
    statement = _ADD_SCANS[dialect_of(session)]
    rows = [
        (lot_id, iso_day, n)
        for day, lots in counts.items()
        for iso_day in (day.isoformat(),)  # once a day, not once a row
        for lot_id, n in lots.items()
    ]
    for start in range(0, len(rows), SCAN_ROWS_AT_ONCE):
        await session.execute(statement, {"rows": json.dumps(rows[start : start + SCAN_ROWS_AT_ONCE])})


async def scans_of(session: AsyncSession, lot_id: str) -> Sequence[LotScan]:
    stmt = select(LotScan).where(LotScan.lot_id == lot_id).order_by(LotScan.day)
    return (await session.scalars(stmt)).all()
