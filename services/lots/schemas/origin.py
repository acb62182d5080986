"""Where a lot came from (lineage, provenance), and trade fairs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
)

from services.lots.rules import Form, Product
from services.lots.schemas.ledger import Name, Strict
from shared.types import JsonDecimal


class LineageNode(BaseModel):
    lot_id: str
    code: str
    origin: str
    product: Product
    form: Form
    quantity_kg: JsonDecimal
    contributed_kg: JsonDecimal = Field(
        description="Kilograms of this lot that ended up in the lot asked about."
    )
    share_pct: JsonDecimal = Field(
        description="Share of the lot asked about by weight that came through here."
    )
    cooperative_id: str | None
    farmer_id: str | None = None
    plot_id: str | None = None
    harvested_on: date | None = None


class LineageEdge(BaseModel):
    from_lot_id: str
    to_lot_id: str
    quantity_kg: JsonDecimal
    event_id: str


class LineageRead(BaseModel):
    lot_id: str
    nodes: list[LineageNode] = Field(description="The lot and every ancestor, down to the deliveries.")
    edges: list[LineageEdge]
    deliveries: list[LineageNode] = Field(description="The ancestor deliveries with what each contributes.")


# Lots per origins request: a batch of pages built ahead asks for this many at most.
MAX_ORIGIN_LOTS = 500


class OriginsAsk(Strict):
    """Lots whose deliveries to read in one request."""

    lot_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_ORIGIN_LOTS,
        description="Lot ids; unknown ones, and lots the caller may not read, are left out of the answer.",
    )


class LotOrigin(BaseModel):
    lot_id: str
    product: Product
    deliveries: list[LineageNode] = Field(description="As in the lot's lineage: the ancestor deliveries.")


class OriginsRead(BaseModel):
    items: list[LotOrigin]


class PlotShare(BaseModel):
    plot_id: str
    plot_name: str
    farmer_id: str
    cooperative_id: str
    area_ha: JsonDecimal
    ubigeo: str | None
    district: str | None
    province: str | None
    region: str | None
    share_pct: JsonDecimal
    contributed_kg: JsonDecimal
    harvested_from: date
    harvested_to: date


class FarmerShare(BaseModel):
    farmer_id: str
    name: str
    public_name_consent: bool
    cooperative_id: str
    share_pct: JsonDecimal


class DistrictShare(BaseModel):
    ubigeo: str | None
    district: str | None
    province: str | None
    region: str | None
    share_pct: JsonDecimal


class CooperativeShare(BaseModel):
    cooperative_id: str
    share_pct: JsonDecimal


class ProvenanceRead(BaseModel):
    lot_id: str
    code: str
    product: Product
    form: Form
    quantity_kg: JsonDecimal
    country: str = "PE"
    harvested_from: date
    harvested_to: date
    deliveries: int
    plots: list[PlotShare]
    farmers: list[FarmerShare]
    districts: list[DistrictShare]
    cooperatives: list[CooperativeShare]


class FairCreate(Strict):
    name: Name
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    starts_on: date
    ends_on: date


class FairRead(BaseModel):
    id: str
    name: str
    city: str
    starts_on: date
    ends_on: date
    created_at: datetime


class CatalogEntry(BaseModel):
    lot_id: str
    code: str
    digital_link: str
    product: Product
    form: Form
    quantity_kg: JsonDecimal
    remaining_kg: JsonDecimal
    cooperative_id: str | None
    presented_by: str | None
    booth: str | None
    presented_at: datetime
    quality: dict[str, Any] | None = Field(description="The lot's latest quality record, if any.")


class FairCatalog(BaseModel):
    fair: FairRead
    items: list[CatalogEntry]
    next: str | None
