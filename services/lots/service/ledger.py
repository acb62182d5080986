"""Kilograms coming in and moving between lots: deliveries, merges, splits, transformations.

Every rule about quantities is checked on locked rows inside the write transaction, so two
requests drawing on the same lot at the same moment cannot both take the last kilo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives.client import (
    CooperativeRead,
    CooperativesClient,
    FarmerRead,
    PlotOrigin,
    PlotRead,
)
from services.lots import repository
from services.lots.codes import gtin14
from services.lots.models import Delivery
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
from services.lots.schemas import DeliveryCreate, LotRead, MergeCreate, SplitCreate, TransformCreate
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
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Forbidden, InsufficientQuantity, NotFound, ValidationFailed


def check_form(product: Product, form: Form, field: str) -> None:
    if form not in FORMS[product]:
        allowed = ", ".join(f.value for f in FORMS[product])
        raise ValidationFailed.single(
            field,
            "form_not_of_product",
            f"{form.value} is not a form of {product.value} (one of: {allowed}).",
        )


def _cooperative_gtin(cooperative: CooperativeRead, product: Product) -> str | None:
    # STANDARDS.md: a Digital Link needs both the GS1 company prefix and the product's GTIN.
    gtin = (cooperative.gtins or {}).get(product.value)  # type: ignore[call-overload]
    if not cooperative.gs1_company_prefix or not gtin:
        return None
    return gtin14(str(gtin))


async def _registry_facts(
    cooperatives: CooperativesClient, data: DeliveryCreate, token: str
) -> tuple[CooperativeRead, FarmerRead, PlotRead]:
    """Ask the registry first, before any transaction opens (ARCHITECTURE.md).

    One call answers a right delivery: the plot with its own farmer and cooperative, under the
    caller's access rules. Only when those are not the ones named does it ask about the ones named,
    so a wrong delivery is refused with the same codes, naming the same fields, as one read each.
    """

    async def fetch(kind: str, field: str, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except NotFound as exc:
            raise ValidationFailed.single(
                field, f"unknown_{kind}", f"No {kind} {getattr(data, field)} in your cooperative's registry."
            ) from exc

    origin: PlotOrigin = await fetch(
        "plot", "plot_id", cooperatives.get_plot_origin(data.plot_id, token=token)
    )
    farmer = origin.farmer
    if farmer.id != data.farmer_id:
        farmer = await fetch("farmer", "farmer_id", cooperatives.get_farmer(data.farmer_id, token=token))
    cooperative = origin.cooperative
    if cooperative.id != data.cooperative_id:
        cooperative = await fetch(
            "cooperative", "cooperative_id", cooperatives.get_cooperative(data.cooperative_id)
        )
    return cooperative, farmer, origin.plot


def _check_delivery(data: DeliveryCreate, farmer: FarmerRead, plot: PlotRead) -> None:
    check_form(data.product, data.form, "form")
    errors = []
    if farmer.cooperative_id != data.cooperative_id:
        errors.append(
            FieldError(
                field="farmer_id",
                code="farmer_not_of_cooperative",
                detail="The farmer is not a member of this cooperative.",
            )
        )
    if plot.farmer_id != data.farmer_id:
        errors.append(
            FieldError(field="plot_id", code="plot_not_of_farmer", detail="The plot is not this farmer's.")
        )
    if plot.crop.value != data.product.value:
        errors.append(
            FieldError(
                field="product",
                code="crop_mismatch",
                detail=f"The plot grows {plot.crop.value}, not {data.product.value}.",
            )
        )
    if data.received_at is not None and data.received_at.date() < data.harvested_on - timedelta(days=1):
        errors.append(
            FieldError(
                field="received_at",
                code="received_before_harvest",
                detail="received_at is before harvested_on.",
            )
        )
    if errors:
        raise ValidationFailed("; ".join(e.detail for e in errors), code=errors[0].code, errors=errors)


async def record_delivery(
    session: AsyncSession,
    cooperatives: CooperativesClient,
    principal: Principal,
    *,
    token: str,
    data: DeliveryCreate,
    public_base_url: str,
) -> LotRead:
    if principal.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden("Deliveries are recorded by a cooperative's managers.", code="role_required")
    if not principal.can_write_cooperative(data.cooperative_id):
        raise NotFound(f"No cooperative {data.cooperative_id} that you manage.", code="cooperative_not_found")
    check_form(data.product, data.form, "form")
    cooperative, farmer, plot = await _registry_facts(cooperatives, data, token)
    _check_delivery(data, farmer, plot)
    received_at = data.received_at or utcnow()
    lot = NewLot(
        origin="delivery",
        product=data.product.value,
        form=data.form.value,
        quantity_g=to_grams(data.quantity_kg),
        cooperative_id=data.cooperative_id,
        gtin=_cooperative_gtin(cooperative, data.product),
        holder_organization=None,
        harvested_on=data.harvested_on,
    )
    await assign_codes(session, [lot])
    await record_event(
        session,
        principal,
        type="delivery",
        subject_lot_id=lot.id,
        event_time=received_at,
        new_lots=[lot],
        data={
            "outputs": [lot_ref(lot, lot.quantity_g)],
            "cooperative_id": data.cooperative_id,
            "cooperative_gln": cooperative.gln,
            "farmer_id": farmer.id,
            "plot_id": plot.id,
            "product": lot.product,
            "form": lot.form,
            "quantity_kg": str(data.quantity_kg),
            "harvested_on": data.harvested_on.isoformat(),
        },
    )
    await repository.insert_rows(
        session,
        Delivery,
        [
            {
                "lot_id": lot.id,
                "cooperative_id": data.cooperative_id,
                "farmer_id": farmer.id,
                "plot_id": plot.id,
                "farmer_name": farmer.name,
                "farmer_public_name_consent": farmer.public_name_consent,
                "plot_name": plot.name,
                "plot_area_ha": str(plot.area_ha),
                "ubigeo": plot.ubigeo,
                "region": plot.region,
                "province": plot.province,
                "district": plot.district,
                "harvested_on": data.harvested_on,
                "received_at": received_at,
            }
        ],
    )
    return new_lot_read(lot, public_base_url, farmer_id=farmer.id, plot_id=plot.id)


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
    lots = [
        NewLot(
            origin="split",
            product=view.lot.product,
            form=view.lot.form,
            quantity_g=g,
            cooperative_id=view.lot.cooperative_id,
            gtin=view.lot.gtin,
            holder_organization=view.state.holder_organization,
            harvested_on=view.lot.harvested_on,
        )
        for g in grams
    ]
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
    lot = NewLot(
        origin="transformation",
        product=view.lot.product,
        form=data.output_form.value,
        quantity_g=output_g,
        cooperative_id=view.lot.cooperative_id,
        gtin=view.lot.gtin,
        holder_organization=view.state.holder_organization,
        harvested_on=view.lot.harvested_on,
    )
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
