"""Kilograms coming in: a farmer's delivery (acopio), checked against the registry first."""

from __future__ import annotations

from collections.abc import Awaitable
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
from services.lots.rules import (
    Product,
    to_grams,
)
from services.lots.schemas import DeliveryCreate, LotRead
from services.lots.service.common import (
    NewLot,
    assign_codes,
    lot_ref,
    new_lot_read,
    record_event,
)
from services.lots.service.ledger import check_form
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import FieldError, Forbidden, NotFound, ValidationFailed


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
