"""What every ledger write shares: new lots, the event that records them, and how a lot reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.lots import repository
from services.lots.codes import digital_link, new_lot_code
from services.lots.models import Lot, LotEdge, LotEvent, LotEventLot, LotState
from services.lots.repository import LotView
from services.lots.rules import to_grams, to_kg
from services.lots.schemas import LotRead
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import Conflict
from shared.ids import new_id

CODE_ATTEMPTS = 8


@dataclass(slots=True)
class NewLot:
    origin: str
    product: str
    form: str
    quantity_g: int
    cooperative_id: str | None
    gtin: str | None
    holder_organization: str | None
    harvested_on: date | None = None
    id: str = field(default_factory=lambda: new_id("lot"))
    code: str = ""
    # Set by ``record_event`` as it writes the lot: what the answer carries without reading it back.
    created_event_id: str = ""
    created_at: datetime | None = None

    @classmethod
    def derived(cls, view: LotView, *, origin: str, form: str, quantity_g: int) -> NewLot:
        """A lot made from one other: same product, cooperative, GTIN, holder and harvest."""
        return cls(
            origin=origin,
            product=view.lot.product,
            form=form,
            quantity_g=quantity_g,
            cooperative_id=view.lot.cooperative_id,
            gtin=view.lot.gtin,
            holder_organization=view.state.holder_organization,
            harvested_on=view.lot.harvested_on,
        )


@dataclass(frozen=True, slots=True)
class Flow:
    """``quantity_g`` moved from ``parent`` into ``child`` by one event."""

    parent: str
    child: str
    quantity_g: int


async def assign_codes(session: AsyncSession, lots: Sequence[NewLot]) -> None:
    """Fresh codes for new lots, checked against the ledger in one query per attempt."""
    wanting = [lot for lot in lots if not lot.code]
    for _ in range(CODE_ATTEMPTS):
        if not wanting:
            return
        drawn = {lot.id: new_lot_code() for lot in wanting}
        taken = await repository.existing_codes(session, drawn.values())
        seen: set[str] = set()
        for lot in wanting:
            code = drawn[lot.id]
            if code not in taken and code not in seen:
                lot.code = code
                seen.add(code)
        wanting = [lot for lot in wanting if not lot.code]
    if wanting:
        raise Conflict("Could not draw unused lot codes; retry.", code="lot_code_exhausted")


def lot_ref(view_or_lot: LotView | NewLot | Lot, quantity_g: int) -> dict[str, Any]:
    lot = view_or_lot.lot if isinstance(view_or_lot, LotView) else view_or_lot
    return {"lot_id": lot.id, "code": lot.code, "gtin": lot.gtin, "quantity_kg": str(to_kg(quantity_g))}


async def record_event(
    session: AsyncSession,
    principal: Principal,
    *,
    type: str,
    subject_lot_id: str,
    event_time: datetime | None,
    data: dict[str, Any],
    new_lots: Sequence[NewLot] = (),
    flows: Sequence[Flow] = (),
    touched: Sequence[tuple[str, str]] = (),
    corrects_event_id: str | None = None,
    event_id: str | None = None,
) -> LotEvent:
    """Append one event with the lots it creates and the kilograms it moves.

    ``touched`` lists (lot id, role) pairs beyond the subject, so each lot's timeline finds the event.
    The event returned is written but not in the session: the ledger never changes a row it wrote.
    """
    now = utcnow()
    event_id = event_id or new_id("evt")
    await assign_codes(session, new_lots)
    for lot in new_lots:
        lot.created_event_id, lot.created_at = event_id, now
    await repository.insert_rows(
        session,
        Lot,
        [
            {
                "id": lot.id,
                "code": lot.code,
                "origin": lot.origin,
                "product": lot.product,
                "form": lot.form,
                "quantity_g": lot.quantity_g,
                "cooperative_id": lot.cooperative_id,
                "gtin": lot.gtin,
                "harvested_on": lot.harvested_on,
                "created_event_id": event_id,
                "created_by": principal.user_id,
                "created_at": now,
            }
            for lot in new_lots
        ],
    )
    await repository.insert_rows(
        session,
        LotState,
        [
            {
                "lot_id": lot.id,
                "quantity_g": lot.quantity_g,
                "remaining_g": lot.quantity_g,
                "status": "active",
                "holder_organization": lot.holder_organization,
                "version": 1,
                "updated_at": now,
            }
            for lot in new_lots
        ],
    )
    event = LotEvent(
        id=event_id,
        type=type,
        lot_id=subject_lot_id,
        event_time=event_time or now,
        recorded_at=now,
        recorded_by=principal.user_id,
        data=data,
        corrects_event_id=corrects_event_id,
    )
    # Rows the caller changed through the ORM (a drawn lot's state) are written first, as before;
    # the event itself is one plain INSERT, without a unit of work for a single new row.
    await session.flush()
    await repository.insert_rows(
        session,
        LotEvent,
        [
            {
                "id": event.id,
                "type": event.type,
                "lot_id": event.lot_id,
                "event_time": event.event_time,
                "recorded_at": event.recorded_at,
                "recorded_by": event.recorded_by,
                "data": event.data,
                "corrects_event_id": event.corrects_event_id,
            }
        ],
    )
    links = {(subject_lot_id, "subject"), *touched}
    links |= {(f.parent, "input") for f in flows} | {(f.child, "output") for f in flows}
    await repository.insert_rows(
        session, LotEventLot, [{"event_id": event_id, "lot_id": lot, "role": role} for lot, role in links]
    )
    await repository.insert_rows(
        session,
        LotEdge,
        [
            {
                "parent_lot_id": f.parent,
                "child_lot_id": f.child,
                "event_id": event_id,
                "quantity_g": f.quantity_g,
            }
            for f in flows
        ],
    )
    return event


def draw(state: LotState, grams: int) -> None:
    """Take ``grams`` from a locked lot (the caller has checked there is enough)."""
    state.remaining_g -= grams
    state.version += 1
    state.updated_at = utcnow()
    if state.remaining_g == 0 and state.status == "active":
        state.status = "depleted"


def _lot_read(
    lot: Lot | NewLot,
    public_base_url: str,
    *,
    quantity_g: int,
    remaining_g: int,
    status: str,
    holder_organization: str | None,
    farmer_id: str | None,
    plot_id: str | None,
    created_at: datetime,
) -> LotRead:
    return LotRead(
        id=lot.id,
        code=lot.code,
        gtin=lot.gtin,
        digital_link=digital_link(public_base_url, lot.code, lot.gtin),
        product=lot.product,
        form=lot.form,
        origin=lot.origin,
        quantity_kg=to_kg(quantity_g),
        remaining_kg=to_kg(remaining_g),
        status=status,
        cooperative_id=lot.cooperative_id,
        holder_organization=holder_organization,
        harvested_on=lot.harvested_on,
        farmer_id=farmer_id,
        plot_id=plot_id,
        created_event_id=lot.created_event_id,
        created_at=created_at,
    )


def to_read(view: LotView, public_base_url: str) -> LotRead:
    state, delivery = view.state, view.delivery
    return _lot_read(
        view.lot,
        public_base_url,
        quantity_g=state.quantity_g,
        remaining_g=state.remaining_g,
        status=state.status,
        holder_organization=state.holder_organization,
        farmer_id=delivery.farmer_id if delivery else None,
        plot_id=delivery.plot_id if delivery else None,
        created_at=view.lot.created_at,
    )


def new_lot_read(
    lot: NewLot, public_base_url: str, *, farmer_id: str | None = None, plot_id: str | None = None
) -> LotRead:
    """A lot ``record_event`` has just written, as ``to_read`` would read it back, from the values written.

    Nothing else can have touched it yet: the lot and its state were inserted in this transaction.
    """
    if lot.created_at is None:
        raise RuntimeError(f"lot {lot.id} has not been recorded yet")
    return _lot_read(
        lot,
        public_base_url,
        quantity_g=lot.quantity_g,
        remaining_g=lot.quantity_g,
        status="active",
        holder_organization=lot.holder_organization,
        farmer_id=farmer_id,
        plot_id=plot_id,
        created_at=lot.created_at,
    )


__all__ = [
    "Flow",
    "NewLot",
    "assign_codes",
    "draw",
    "lot_ref",
    "new_lot_read",
    "record_event",
    "to_grams",
    "to_read",
]
