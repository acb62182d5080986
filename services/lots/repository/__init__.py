"""Every SQL statement of the lot ledger (the lineage's walks in lineage.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.lots.models import (
    Delivery,
    Fair,
    FairPresentation,
    Lot,
    LotEdge,
    LotEvent,
    LotEventLot,
    LotState,
)
from services.lots.repository.lineage import (
    AnyRow,
    LotIds,
    ancestor_edges,
    ancestor_edges_cte,
    ancestor_ids,
    dialect_of,
    harvest_periods,
    lineage_rows,
)
from shared.pagination import AnySelect, PageParams, keyset

__all__ = [
    "AnyRow",
    "LotIds",
    "LotView",
    "Origins",
    "ancestor_edges",
    "ancestor_edges_cte",
    "ancestor_ids",
    "dialect_of",
    "harvest_periods",
    "lineage_rows",
]


@dataclass(frozen=True, slots=True)
class LotView:
    lot: Lot
    state: LotState
    delivery: Delivery | None


async def insert_rows(session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(model.__table__), list(rows))


async def existing_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    wanted = list(set(codes))
    return set((await session.scalars(select(Lot.code).where(Lot.code.in_(wanted)))).all())


def _view_query() -> AnySelect:
    return (
        select(Lot, LotState, Delivery)
        .join(LotState, LotState.lot_id == Lot.id)
        .outerjoin(Delivery, Delivery.lot_id == Lot.id)
    )


def _view(row: AnyRow) -> LotView:
    return LotView(row[0], row[1], row[2])


async def get_lot(session: AsyncSession, lot_id: str) -> LotView | None:
    row = (await session.execute(_view_query().where(Lot.id == lot_id))).first()
    return _view(row) if row else None


async def get_lot_by_code(session: AsyncSession, code: str) -> LotView | None:
    row = (await session.execute(_view_query().where(Lot.code == code))).first()
    return _view(row) if row else None


async def get_lots(session: AsyncSession, lot_ids: Iterable[str]) -> dict[str, LotView]:
    wanted = sorted(set(lot_ids))
    if not wanted:
        return {}
    rows = (await session.execute(_view_query().where(Lot.id.in_(wanted)))).all()
    return {row[0].id: _view(row) for row in rows}


async def get_lots_by_ids_or_codes(
    session: AsyncSession, lot_ids: Iterable[str], codes: Iterable[str]
) -> list[LotView]:
    """Lots named by id or by code, in one query."""
    ids, wanted_codes = sorted(set(lot_ids)), sorted(set(codes))
    if not ids and not wanted_codes:
        return []
    stmt = _view_query().where(or_(Lot.id.in_(ids), Lot.code.in_(wanted_codes)))
    return [_view(row) for row in (await session.execute(stmt)).all()]


async def lock_lots(session: AsyncSession, lot_ids: Iterable[str]) -> dict[str, LotView]:
    """The lots with their state rows locked until commit (PostgreSQL ``FOR UPDATE``).

    Locks are taken in id order, so two requests drawing on the same lots never deadlock. SQLite
    ignores ``FOR UPDATE``; there the write session's ``BEGIN IMMEDIATE`` already serialises writers.
    """
    wanted = sorted(set(lot_ids))
    if not wanted:
        return {}
    stmt = (
        _view_query()
        .where(Lot.id.in_(wanted))
        .order_by(Lot.id)
        .with_for_update(of=LotState)
        # Objects read before the lock may be stale: the locked row's values are the truth.
        .execution_options(populate_existing=True)
    )
    return {row[0].id: _view(row) for row in (await session.execute(stmt)).all()}


@dataclass(frozen=True, slots=True)
class Origins:
    """Deliveries from these plots or farmers, harvested inside the dates: whose lots came from them."""

    plot_ids: Sequence[str] = ()
    farmer_ids: Sequence[str] = ()
    harvested_from: date | None = None
    harvested_to: date | None = None


def descendant_ids(origins: Origins) -> Any:
    """The matching deliveries and every lot made from them: one recursive query down the edges."""
    seed = select(Delivery.lot_id.label("lot_id")).where(
        or_(Delivery.plot_id.in_(list(origins.plot_ids)), Delivery.farmer_id.in_(list(origins.farmer_ids)))
    )
    if origins.harvested_from is not None:
        seed = seed.where(Delivery.harvested_on >= origins.harvested_from)
    if origins.harvested_to is not None:
        seed = seed.where(Delivery.harvested_on <= origins.harvested_to)
    walk = seed.cte("descend", recursive=True)
    walk = walk.union(select(LotEdge.child_lot_id).join(walk, LotEdge.parent_lot_id == walk.c.lot_id))
    return select(walk.c.lot_id)


async def list_lots(
    session: AsyncSession,
    page: PageParams,
    *,
    descends_from: Origins | None = None,
    cooperative_id: str | None,
    holder_organization: str | None,
    status: str | None,
    product: str | None,
    form: str | None,
    origin: str | None,
) -> Sequence[AnyRow]:
    stmt = _view_query()
    equal = (
        (Lot.cooperative_id, cooperative_id),
        (LotState.holder_organization, holder_organization),
        (LotState.status, status),
        (Lot.product, product),
        (Lot.form, form),
        (Lot.origin, origin),
    )
    for column, wanted in equal:
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if descends_from is not None:
        stmt = stmt.where(Lot.id.in_(descendant_ids(descends_from)))
    return (await session.execute(keyset(stmt, [Lot.created_at, Lot.id], page))).all()


# events


async def get_event(session: AsyncSession, event_id: str) -> LotEvent | None:
    return await session.get(LotEvent, event_id)


async def correction_of(session: AsyncSession, event_id: str) -> LotEvent | None:
    event: LotEvent | None = await session.scalar(
        select(LotEvent).where(LotEvent.corrects_event_id == event_id)
    )
    return event


def _timeline_query(lot_ids: LotIds | Sequence[str]) -> AnySelect:
    correction = aliased(LotEvent)
    involved = select(LotEventLot.event_id).where(LotEventLot.lot_id.in_(lot_ids))
    return (
        select(LotEvent, correction.id)
        .outerjoin(correction, correction.corrects_event_id == LotEvent.id)
        .where(LotEvent.id.in_(involved))
    )


async def timeline(session: AsyncSession, lot_id: str, page: PageParams) -> Sequence[AnyRow]:
    """Events that touched the lot, oldest first, each with the id of the correction that voids it."""
    stmt = keyset(_timeline_query([lot_id]), [LotEvent.event_time, LotEvent.id], page)
    return (await session.execute(stmt)).all()


async def all_events(session: AsyncSession, lot_ids: LotIds | Sequence[str]) -> Sequence[AnyRow]:
    stmt = _timeline_query(lot_ids).order_by(LotEvent.event_time, LotEvent.id)
    return (await session.execute(stmt)).all()


async def uncorrected_event_types(session: AsyncSession, lot_id: str, types: Sequence[str]) -> set[str]:
    """Which of ``types`` the lot has at least one standing (not corrected) event of."""
    correction = aliased(LotEvent)
    stmt = (
        select(LotEvent.type)
        .where(LotEvent.lot_id == lot_id, LotEvent.type.in_(types))
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
        .distinct()
    )
    return set((await session.scalars(stmt)).all())


# fairs


async def get_fair(session: AsyncSession, fair_id: str) -> Fair | None:
    return await session.get(Fair, fair_id)


async def list_fairs(session: AsyncSession, page: PageParams) -> Sequence[Fair]:
    return (await session.scalars(keyset(select(Fair), [Fair.created_at, Fair.id], page))).all()


async def catalog(session: AsyncSession, fair_id: str, page: PageParams) -> Sequence[AnyRow]:
    """Standing presentations at a fair (a corrected fair event is no longer in the catalogue)."""
    correction = aliased(LotEvent)
    stmt = (
        select(FairPresentation, LotEvent, Lot, LotState)
        .join(LotEvent, LotEvent.id == FairPresentation.event_id)
        .join(Lot, Lot.id == FairPresentation.lot_id)
        .join(LotState, LotState.lot_id == Lot.id)
        .where(FairPresentation.fair_id == fair_id)
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
    )
    return (await session.execute(keyset(stmt, [FairPresentation.event_id], page))).all()


async def latest_quality(session: AsyncSession, lot_ids: Sequence[str]) -> dict[str, LotEvent]:
    if not lot_ids:
        return {}
    correction = aliased(LotEvent)
    stmt = (
        select(LotEvent)
        .where(and_(LotEvent.lot_id.in_(list(lot_ids)), LotEvent.type == "quality"))
        .where(~exists().where(correction.corrects_event_id == LotEvent.id))
        .order_by(LotEvent.event_time, LotEvent.id)
    )
    latest: dict[str, LotEvent] = {}
    for event in (await session.scalars(stmt)).all():
        latest[event.lot_id] = event
    return latest
