"""Every SQL statement of the lot ledger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Row,
    String,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    true,
)
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
from shared.pagination import AnySelect, PageParams, keyset

LotIds = CompoundSelect[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]


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
    if cooperative_id is not None:
        stmt = stmt.where(Lot.cooperative_id == cooperative_id)
    if holder_organization is not None:
        stmt = stmt.where(LotState.holder_organization == holder_organization)
    if status is not None:
        stmt = stmt.where(LotState.status == status)
    if product is not None:
        stmt = stmt.where(Lot.product == product)
    if form is not None:
        stmt = stmt.where(Lot.form == form)
    if origin is not None:
        stmt = stmt.where(Lot.origin == origin)
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


# lineage


def ancestor_edges_cte(lot_id: str | BindParameter[str], *, lateral: bool = False) -> Any:
    """Every edge above ``lot_id``: a recursive CTE that both engines run.

    ``UNION`` (not ``UNION ALL``) drops an edge reached again through another path, so a lot that
    fed two branches is walked once — the walk stays linear in the ancestor graph, not in paths.

    ``lateral`` (PostgreSQL) writes the recursive step as a LATERAL lookup, so every level probes
    ``ix_lot_edges_child``. Planned as a plain join, the step's row estimate follows ANALYZE's
    sample: a container with hundreds of inputs in the most-common-values list turns it into a
    hash join over the whole edge table at every level, ~80× slower (bench/lineage.py).
    """
    walk = (
        select(
            LotEdge.parent_lot_id.label("parent"),
            LotEdge.child_lot_id.label("child"),
            LotEdge.quantity_g.label("quantity_g"),
            LotEdge.event_id.label("event_id"),
        )
        .where(LotEdge.child_lot_id == lot_id)
        .cte("walk", recursive=True)
    )
    edge = aliased(LotEdge)
    columns = (edge.parent_lot_id, edge.child_lot_id, edge.quantity_g, edge.event_id)
    if lateral:
        # OFFSET 0 keeps the planner from flattening the lookup back into a join.
        step = select(*columns).where(edge.child_lot_id == walk.c.parent).offset(0).lateral("step")
        return walk.union(select(*step.c).select_from(walk).join(step, true()))
    return walk.union(select(*columns).join(walk, edge.child_lot_id == walk.c.parent))


def dialect_of(session: AsyncSession) -> str:
    bind = session.bind
    return bind.dialect.name if bind is not None else ""


async def ancestor_edges(session: AsyncSession, lot_id: str) -> Sequence[AnyRow]:
    """One recursive query: (parent, child, quantity_g, event_id) for every edge above the lot."""
    walk = ancestor_edges_cte(lot_id, lateral=dialect_of(session) == "postgresql")
    stmt = select(walk.c.parent, walk.c.child, walk.c.quantity_g, walk.c.event_id)
    return (await session.execute(stmt)).all()


def _node_columns() -> tuple[Any, ...]:
    return (
        Lot.id,
        Lot.code,
        Lot.origin,
        Lot.product,
        Lot.form,
        Lot.cooperative_id,
        Lot.harvested_on,
        LotState.quantity_g,
        Delivery.lot_id.label("delivery_lot_id"),
        Delivery.cooperative_id.label("delivery_cooperative_id"),
        Delivery.farmer_id,
        Delivery.plot_id,
        Delivery.farmer_name,
        Delivery.farmer_public_name_consent,
        Delivery.plot_name,
        Delivery.plot_area_ha,
        Delivery.ubigeo,
        Delivery.region,
        Delivery.province,
        Delivery.district,
        Delivery.harvested_on.label("delivery_harvested_on"),
    )


async def lineage_rows(session: AsyncSession, lot_id: str) -> Sequence[AnyRow]:
    """One recursive query: every edge above the lot, each with its parent lot as plain columns.

    The lots are joined in the same statement rather than read by id afterwards: an ``IN`` list of
    thousands of ids costs more to build, send and parse than the walk itself (bench/lineage.py).
    A parent that feeds several edges comes back once per edge.
    """
    statement = _lineage_statement(dialect_of(session))
    return (await session.execute(statement, {"lot_id": lot_id})).all()


@cache
def _lineage_statement(dialect: str) -> AnySelect:
    """Built once per dialect with a bound lot id: building this recursive statement costs more
    Python than a small lineage takes to run, and every public page and claim reads one."""
    postgresql = dialect == "postgresql"
    walk = ancestor_edges_cte(bindparam("lot_id", type_=String), lateral=postgresql)
    edge_columns = (
        walk.c.parent.label("edge_parent"),
        walk.c.child.label("edge_child"),
        walk.c.quantity_g.label("edge_grams"),
        walk.c.event_id.label("edge_event"),
    )
    if postgresql:
        # Each parent's row by primary key, whatever the planner guesses of the walk's size: as a
        # plain join it may hash the whole lots table to meet ~2,000 rows.
        lateral = (
            select(*_node_columns())
            .join(LotState, LotState.lot_id == Lot.id)
            .outerjoin(Delivery, Delivery.lot_id == Lot.id)
            .where(Lot.id == walk.c.parent)
            .offset(0)
            .lateral("node")
        )
        return select(*edge_columns, *lateral.c).select_from(walk).join(lateral, true())
    return (
        select(*edge_columns, *_node_columns())
        .select_from(walk)
        .join(Lot, Lot.id == walk.c.parent)
        .join(LotState, LotState.lot_id == Lot.id)
        .outerjoin(Delivery, Delivery.lot_id == Lot.id)
    )


def ancestor_ids(session: AsyncSession, lot_id: str) -> LotIds:
    """The lot and every ancestor (a subquery)."""
    walk = ancestor_edges_cte(lot_id, lateral=dialect_of(session) == "postgresql")
    return select(walk.c.parent).union(select(Lot.id).where(Lot.id == lot_id))


async def harvest_periods(session: AsyncSession, lot_ids: Iterable[str]) -> dict[str, tuple[date, date]]:
    """For many lots at once, one recursive query: the first and last harvest of the deliveries under each.

    The walk carries the lot it started from, so a delivery shared by two of the lots is counted for
    both; ``UNION`` drops a (start, ancestor) pair reached again through another path. A lot with no
    delivery under it (none exists today) is missing from the answer.
    """
    wanted = sorted(set(lot_ids))
    if not wanted:
        return {}
    walk = (
        select(LotEdge.child_lot_id.label("start"), LotEdge.parent_lot_id.label("lot_id"))
        .where(LotEdge.child_lot_id.in_(wanted))
        .cte("harvest_walk", recursive=True)
    )
    edge = aliased(LotEdge)
    walk = walk.union(select(walk.c.start, edge.parent_lot_id).join(edge, edge.child_lot_id == walk.c.lot_id))
    # A delivery asked about is its own harvest.
    reached = (
        select(walk.c.start, walk.c.lot_id)
        .union(select(Lot.id.label("start"), Lot.id.label("lot_id")).where(Lot.id.in_(wanted)))
        .subquery("reached")
    )
    stmt = (
        select(reached.c.start, func.min(Delivery.harvested_on), func.max(Delivery.harvested_on))
        .join(Delivery, Delivery.lot_id == reached.c.lot_id)
        .group_by(reached.c.start)
    )
    return {start: (first, last) for start, first, last in (await session.execute(stmt)).all()}


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
