"""Kilograms moving between lots: merges, splits, transformations (deliveries: deliveries.py).

Every rule about quantities is checked on locked rows inside the write transaction, so two
requests drawing on the same lot at the same moment cannot both take the last kilo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.lots import repository
from services.lots.repository import LotView
from services.lots.rules import (
    FORMS,
    Form,
    Process,
    Product,
    processes_from,
    ratio,
    to_grams,
    to_kg,
    yield_range,
)
from services.lots.schemas import LotRead, MergeCreate, SplitCreate, TransformCreate
from services.lots.service.access import actionable, all_actionable
from services.lots.service.common import (
    Flow,
    NewLot,
    assign_codes,
    draw,
    lot_ref,
    new_lot_read,
    record_event,
)
from shared.auth import Principal
from shared.errors import Conflict, FieldError, InsufficientQuantity, ValidationFailed


def check_form(product: Product, form: Form, field: str) -> None:
    if form not in FORMS[product]:
        allowed = ", ".join(f.value for f in FORMS[product])
        raise ValidationFailed.single(
            field,
            "form_not_of_product",
            f"{form.value} is not a form of {product.value} (one of: {allowed}).",
        )


def _require_active(view: LotView, field: str) -> None:
    if view.state.status != "active":
        raise Conflict(
            f"Lot {view.lot.code} is {view.state.status}; nothing more can be taken from it.",
            code="lot_not_active",
            errors=[
                FieldError(
                    field=field, code="lot_not_active", detail=f"Lot {view.lot.code} is {view.state.status}."
                )
            ],
        )


def _require_enough(view: LotView, grams: int, field: str) -> None:
    if grams > view.state.remaining_g:
        left = to_kg(view.state.remaining_g)
        detail = f"Lot {view.lot.code} has {left} kg left; {to_kg(grams)} kg were asked for."
        raise InsufficientQuantity(
            detail,
            errors=[FieldError(field=field, code="insufficient_quantity", detail=detail)],
            extra={"lot_id": view.lot.id, "remaining_kg": float(to_kg(view.state.remaining_g))},
        )


def _common(values: Sequence[Any]) -> Any:
    first = values[0]
    return first if all(v == first for v in values) else None


def _merge_owner(views: Sequence[LotView]) -> tuple[str | None, str | None]:
    """The merged lot's cooperative and holder; several cooperatives only in an exporter's hands."""
    cooperative = _common([v.lot.cooperative_id for v in views])
    holder = _common([v.state.holder_organization for v in views])
    if len({v.state.holder_organization for v in views}) > 1:
        raise ValidationFailed.single(
            "inputs", "holders_mixed", "The inputs are held by different organisations; hand them over first."
        )
    if cooperative is None and holder is None:
        raise ValidationFailed.single(
            "inputs",
            "cooperatives_mixed",
            "Lots of different cooperatives can only be merged by the exporter they were handed to.",
        )
    return cooperative, holder


async def merge_lots(
    session: AsyncSession, principal: Principal, *, data: MergeCreate, public_base_url: str
) -> LotRead:
    ids = [i.lot_id for i in data.inputs]
    views = all_actionable(principal, await repository.lock_lots(session, ids), ids)
    products = {v.lot.product for v in views}
    if len(products) > 1:
        raise ValidationFailed.single(
            "inputs",
            "products_mixed",
            f"Cacao and coffee never mix: the inputs are {', '.join(sorted(products))}.",
        )
    forms = {v.lot.form for v in views}
    if len(forms) > 1:
        raise ValidationFailed.single(
            "inputs",
            "forms_mixed",
            f"Inputs must be in one form to be merged; they are {', '.join(sorted(forms))}.",
        )
    form = views[0].lot.form
    if data.form is not None and data.form.value != form:
        raise ValidationFailed.single(
            "form", "form_mismatch", f"The inputs are {form}, not {data.form.value}."
        )
    cooperative, holder = _merge_owner(views)
    flows = []
    lot = NewLot(
        origin="merge",
        product=views[0].lot.product,
        form=form,
        quantity_g=sum(to_grams(i.quantity_kg) for i in data.inputs),
        cooperative_id=cooperative,
        gtin=_common([v.lot.gtin for v in views]) if cooperative else None,
        holder_organization=holder,
    )
    await assign_codes(session, [lot])
    for index, (item, view) in enumerate(zip(data.inputs, views, strict=True)):
        grams = to_grams(item.quantity_kg)
        _require_active(view, f"inputs.{index}.lot_id")
        _require_enough(view, grams, f"inputs.{index}.quantity_kg")
        draw(view.state, grams)
        flows.append(Flow(view.lot.id, lot.id, grams))
    await record_event(
        session,
        principal,
        type="merge",
        subject_lot_id=lot.id,
        event_time=data.event_time,
        new_lots=[lot],
        flows=flows,
        data={
            "inputs": [lot_ref(v, f.quantity_g) for v, f in zip(views, flows, strict=True)],
            "outputs": [lot_ref(lot, lot.quantity_g)],
        },
    )
    return new_lot_read(lot, public_base_url)


async def split_lot(
    session: AsyncSession, principal: Principal, lot_id: str, *, data: SplitCreate, public_base_url: str
) -> list[LotRead]:
    view = actionable(principal, (await repository.lock_lots(session, [lot_id])).get(lot_id), lot_id)
    _require_active(view, "outputs")
    grams = [to_grams(o.quantity_kg) for o in data.outputs]
    _require_enough(view, sum(grams), "outputs")
    lots = [NewLot.derived(view, origin="split", form=view.lot.form, quantity_g=g) for g in grams]
    await assign_codes(session, lots)
    draw(view.state, sum(grams))
    flows = [Flow(view.lot.id, new.id, new.quantity_g) for new in lots]
    await record_event(
        session,
        principal,
        type="split",
        subject_lot_id=view.lot.id,
        event_time=data.event_time,
        new_lots=lots,
        flows=flows,
        data={
            "inputs": [lot_ref(view, sum(grams))],
            "outputs": [lot_ref(new, new.quantity_g) for new in lots],
        },
    )
    return [new_lot_read(new, public_base_url) for new in lots]


def check_yield(
    product: Product, process: Process, source: Form, target: Form, input_g: int, output_g: int
) -> None:
    allowed = yield_range(product, process, source, target)
    if allowed is None:
        options = processes_from(product, source)
        known = "; ".join(f"{y.process.value} → {y.output_form.value}" for y in options) or "none"
        raise ValidationFailed.single(
            "output_form",
            "unknown_transformation",
            f"{process.value.capitalize()} does not turn {product.value} {source.value} into {target.value}. "
            f"From {source.value}: {known}.",
        )
    if not allowed.low * input_g <= output_g <= allowed.high * input_g:
        raise ValidationFailed.single(
            "output_quantity_kg",
            "yield_out_of_range",
            f"A {allowed.describe()}; {to_kg(output_g)} kg from {to_kg(input_g)} kg is a yield of "
            f"{ratio(output_g, input_g)}.",
        )


async def transform_lot(
    session: AsyncSession, principal: Principal, lot_id: str, *, data: TransformCreate, public_base_url: str
) -> LotRead:
    view = actionable(principal, (await repository.lock_lots(session, [lot_id])).get(lot_id), lot_id)
    product = Product(view.lot.product)
    check_form(product, data.output_form, "output_form")
    _require_active(view, "input_quantity_kg")
    input_g = to_grams(data.input_quantity_kg) if data.input_quantity_kg else view.state.remaining_g
    _require_enough(view, input_g, "input_quantity_kg")
    output_g = to_grams(data.output_quantity_kg)
    check_yield(product, data.process, Form(view.lot.form), data.output_form, input_g, output_g)
    lot = NewLot.derived(view, origin="transformation", form=data.output_form.value, quantity_g=output_g)
    await assign_codes(session, [lot])
    draw(view.state, input_g)
    await record_event(
        session,
        principal,
        type="transformation",
        subject_lot_id=lot.id,
        event_time=data.event_time,
        new_lots=[lot],
        flows=[Flow(view.lot.id, lot.id, input_g)],
        data={
            "process": data.process.value,
            "inputs": [lot_ref(view, input_g)],
            "outputs": [lot_ref(lot, output_g)],
        },
    )
    return new_lot_read(lot, public_base_url)
