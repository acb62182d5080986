"""The lineage's SQL: recursive walks up the edges from a lot to its deliveries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, CompoundSelect, Row, String, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.lots.models import Delivery, Lot, LotEdge, LotState
from shared.pagination import AnySelect

LotIds = CompoundSelect[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]


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
