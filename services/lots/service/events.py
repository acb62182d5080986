"""Things that happen to a lot without moving kilograms, corrections, and trade fairs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.lots import repository
from services.lots.models import Fair, FairPresentation, LotEvent
from services.lots.repository import LotView
from services.lots.rules import Form, Process, Product, to_grams, to_kg
from services.lots.schemas import (
    OBSERVATION_MODELS,
    CorrectionEvent,
    EventRead,
    FairCreate,
    FairEvent,
    FairRead,
    HandoverEvent,
    LotQuantity,
    ObservationCreate,
    SaleEvent,
    ShipmentEvent,
)
from services.lots.service.access import actionable
from services.lots.service.common import record_event
from services.lots.service.ledger import check_yield
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Forbidden, InsufficientQuantity, ValidationFailed
from shared.ids import new_id

# What each status allows; a correction may move a lot back (a shipment that did not happen).
_ALLOWED_FROM: dict[str, frozenset[str]] = {
    "shipment": frozenset({"active"}),
    "handover": frozenset({"active"}),
    "sale": frozenset({"active", "shipped"}),
}
CORRECTABLE = frozenset({"delivery", "transformation", "quality", "storage", "shipment", "fair", "sale"})


def event_read(event: LotEvent, corrected_by: str | None = None) -> EventRead:
    def quantities(key: str) -> list[LotQuantity]:
        return [LotQuantity.model_validate(item) for item in event.data.get(key, [])]

    return EventRead(
        id=event.id,
        type=event.type,
        lot_id=event.lot_id,
        event_time=event.event_time,
        recorded_at=event.recorded_at,
        recorded_by=event.recorded_by,
        data={k: v for k, v in event.data.items() if k not in ("inputs", "outputs")},
        inputs=quantities("inputs"),
        outputs=quantities("outputs"),
        corrects_event_id=event.corrects_event_id,
        corrected_by_event_id=corrected_by,
    )


def _require_status(view: LotView, kind: str) -> None:
    allowed = _ALLOWED_FROM.get(kind)
    if allowed is not None and view.state.status not in allowed:
        raise Conflict(
            f"A {kind} needs the lot to be {' or '.join(sorted(allowed))}; lot {view.lot.code} is "
            f"{view.state.status}.",
            code="lot_not_active",
        )


async def derive_status(session: AsyncSession, view: LotView) -> str:
    standing = await repository.uncorrected_event_types(session, view.lot.id, ["shipment", "sale"])
    if "sale" in standing:
        return "sold"
    if "shipment" in standing:
        return "shipped"
    return "active" if view.state.remaining_g > 0 else "depleted"


def _touch(view: LotView, **values: Any) -> None:
    for name, value in values.items():
        setattr(view.state, name, value)
    view.state.version += 1
    view.state.updated_at = utcnow()


async def _apply_observation(
    session: AsyncSession, principal: Principal, view: LotView, body: ObservationCreate
) -> dict[str, Any]:
    """Check an observation against the lot and change the lot's state; returns the event's data."""
    _require_status(view, body.type)
    data = body.model_dump(mode="json", exclude={"type", "event_time"}, exclude_none=True)
    if isinstance(body, HandoverEvent):
        if body.to_organization == view.state.holder_organization:
            raise ValidationFailed.single(
                "to_organization", "already_holder", f"{body.to_organization} already holds this lot."
            )
        data["from_organization"] = view.state.holder_organization
        data["cooperative_id"] = view.lot.cooperative_id
        _touch(view, holder_organization=body.to_organization)
    elif isinstance(body, ShipmentEvent):
        data["holder_organization"] = view.state.holder_organization
        data["cooperative_id"] = view.lot.cooperative_id
        _touch(view, status="shipped")
    elif isinstance(body, SaleEvent):
        _touch(view, status="sold")
    elif isinstance(body, FairEvent):
        fair = await repository.get_fair(session, body.fair_id)
        if fair is None:
            raise ValidationFailed.single("fair_id", "unknown_fair", f"No fair {body.fair_id}.")
        data["fair_name"] = fair.name
        data["fair_city"] = fair.city
    return data


async def record_observation(
    session: AsyncSession, principal: Principal, lot_id: str, *, body: ObservationCreate
) -> EventRead:
    view = actionable(principal, (await repository.lock_lots(session, [lot_id])).get(lot_id), lot_id)
    data = await _apply_observation(session, principal, view, body)
    event = await record_event(
        session, principal, type=body.type, subject_lot_id=view.lot.id, event_time=body.event_time, data=data
    )
    if isinstance(body, FairEvent):
        await _present(session, principal, view, event, body)
    return event_read(event)


async def _present(
    session: AsyncSession, principal: Principal, view: LotView, event: LotEvent, body: FairEvent
) -> None:
    """The fair's catalogue lists the lot from now on."""
    session.add(
        FairPresentation(
            event_id=event.id,
            fair_id=body.fair_id,
            lot_id=view.lot.id,
            presented_by=view.state.holder_organization or principal.organization,
        )
    )
    await session.flush()


async def _correct_quantity(
    session: AsyncSession,
    view: LotView,
    wrong: LotEvent,
    body: CorrectionEvent,
    locked: dict[str, LotView],
) -> dict[str, Any]:
    """A delivery's or transformation's weight was wrong: the lot's weight changes by the difference."""
    if body.reason == "did_not_occur":
        corrected_g = 0
    elif body.quantity_kg is None:
        raise ValidationFailed.single(
            "quantity_kg", "quantity_required", f"Give the right weight of the {wrong.type} in quantity_kg."
        )
    else:
        corrected_g = to_grams(body.quantity_kg)
    delta = corrected_g - view.state.quantity_g
    if view.state.remaining_g + delta < 0:
        detail = (
            f"{to_kg(view.state.quantity_g - view.state.remaining_g)} kg of lot {view.lot.code} have already "
            f"gone into other lots; its weight cannot become {to_kg(corrected_g)} kg. Correct those first."
        )
        raise InsufficientQuantity(
            detail, errors=[FieldError(field="quantity_kg", code="insufficient_quantity", detail=detail)]
        )
    source = wrong.data["inputs"][0] if wrong.type == "transformation" else None
    if source is not None and corrected_g > 0:
        lot = locked[source["lot_id"]].lot
        check_yield(
            Product(lot.product),
            Process(wrong.data["process"]),
            Form(lot.form),
            Form(view.lot.form),
            to_grams(Decimal(source["quantity_kg"])),
            corrected_g,
        )
    _touch(view, quantity_g=corrected_g, remaining_g=view.state.remaining_g + delta)
    _touch(view, status=await derive_status(session, view))
    if source is not None and corrected_g == 0:
        # A transformation that never happened took nothing: its input gets its kilos back.
        given_back = locked[source["lot_id"]]
        _touch(
            given_back, remaining_g=given_back.state.remaining_g + to_grams(Decimal(source["quantity_kg"]))
        )
        _touch(given_back, status=await derive_status(session, given_back))
    return {
        "previous_quantity_kg": str(to_kg(view.state.quantity_g - delta)),
        "quantity_kg": str(to_kg(corrected_g)),
    }


async def record_correction(
    session: AsyncSession, principal: Principal, lot_id: str, *, body: CorrectionEvent
) -> EventRead:
    # Events never change, so the wrong one is read before locking; a voided transformation also
    # gives kilos back to its input, whose row is locked together with the lot's, in id order.
    wrong = await repository.get_event(session, body.corrects_event_id)
    related = (
        [wrong.data["inputs"][0]["lot_id"]] if wrong is not None and wrong.type == "transformation" else []
    )
    locked = await repository.lock_lots(session, [lot_id, *related])
    view = actionable(principal, locked.get(lot_id), lot_id)
    if wrong is None or wrong.lot_id != view.lot.id:
        raise ValidationFailed.single(
            "corrects_event_id",
            "unknown_event",
            f"Lot {view.lot.code} has no event {body.corrects_event_id}.",
        )
    if wrong.type not in CORRECTABLE:
        raise ValidationFailed.single(
            "corrects_event_id",
            "not_correctable",
            f"A {wrong.type} cannot be corrected; "
            + ("hand the lot back instead." if wrong.type == "handover" else "split or merge again instead."),
        )
    if await repository.correction_of(session, wrong.id) is not None:
        raise Conflict(f"Event {wrong.id} was already corrected.", code="already_corrected")
    data: dict[str, Any] = {
        "reason": body.reason,
        "explanation": body.explanation,
        "corrected_type": wrong.type,
    }
    replacement_body = None
    if wrong.type in ("delivery", "transformation"):
        if body.replacement is not None:
            raise ValidationFailed.single(
                "replacement",
                "replacement_not_allowed",
                "Correct a weight with quantity_kg, not a replacement.",
            )
        data |= await _correct_quantity(session, view, wrong, body, locked)
    else:
        if body.quantity_kg is not None:
            raise ValidationFailed.single(
                "quantity_kg", "quantity_not_allowed", f"A {wrong.type} has no weight to correct."
            )
        if body.replacement is not None:
            if body.reason == "did_not_occur":
                raise ValidationFailed.single(
                    "replacement",
                    "replacement_not_allowed",
                    "An event that did not occur has no replacement.",
                )
            replacement_body = _parse_replacement(wrong.type, body.replacement)
    replacement_id = new_id("evt") if replacement_body is not None else None
    if replacement_id is not None:
        # EPCIS correctiveEventIDs; known before either row is written, since rows are never updated.
        data["corrective_event_ids"] = [replacement_id]
    correction = await record_event(
        session,
        principal,
        type="correction",
        subject_lot_id=view.lot.id,
        event_time=None,
        data=data,
        corrects_event_id=wrong.id,
    )
    if wrong.type in ("shipment", "sale"):
        await session.flush()
        _touch(view, status=await derive_status(session, view))
    if replacement_body is not None:
        replacement_data = await _apply_observation(session, principal, view, replacement_body)
        replacement = await record_event(
            session,
            principal,
            event_id=replacement_id,
            type=replacement_body.type,
            subject_lot_id=view.lot.id,
            event_time=replacement_body.event_time or wrong.event_time,
            data=replacement_data | {"replaces_event_id": wrong.id},
        )
        if isinstance(replacement_body, FairEvent):
            await _present(session, principal, view, replacement, replacement_body)
    await session.flush()
    return event_read(correction)


def _parse_replacement(event_type: str, raw: dict[str, Any]) -> ObservationCreate:
    model = OBSERVATION_MODELS[event_type]
    try:
        parsed = model.model_validate({**raw, "type": event_type})
    except ValidationError as exc:
        errors = [
            FieldError(
                field=".".join(["replacement", *(str(p) for p in e["loc"])]), code=e["type"], detail=e["msg"]
            )
            for e in exc.errors()
        ]
        raise ValidationFailed("The replacement event is not valid.", errors=errors) from exc
    return parsed  # type: ignore[return-value]


async def create_fair(session: AsyncSession, principal: Principal, *, data: FairCreate) -> FairRead:
    if principal.role not in (Role.ADMIN, Role.EXPORTER, Role.MANAGER):
        raise Forbidden("Fairs are registered by exporters, managers and admins.", code="role_required")
    if data.ends_on < data.starts_on:
        raise ValidationFailed.single("ends_on", "ends_before_start", "ends_on is before starts_on.")
    if (data.ends_on - data.starts_on).days > 60:
        raise ValidationFailed.single("ends_on", "fair_too_long", "A fair lasts at most 60 days.")
    fair = Fair(
        id=new_id("fair"),
        name=data.name,
        city=data.city,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    session.add(fair)
    await session.flush()
    return FairRead.model_validate(fair, from_attributes=True)
