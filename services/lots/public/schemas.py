"""The public provenance of a lot: what anyone holding the bag may read — nothing personal.

No DNI, no farmer name without the farmer's consent, no plot, farmer or lot ids of the registry,
no coordinates: origin is told by district (INEI ubigeo), which is coarser than the 0.1° the
architecture allows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.cooperatives.client import CoarseMap
from services.lots.rules import Form, Product
from shared.types import JsonDecimal

Stage = Literal[
    "delivery",
    "fermentation",
    "drying",
    "hulling",
    "sorting",
    "merge",
    "split",
    "quality",
    "storage",
    "handover",
    "shipment",
    "fair",
]


class PublicCooperative(BaseModel):
    name: str
    region: str | None
    province: str | None
    district: str | None
    share_pct: JsonDecimal = Field(description="Share of the lot by weight delivered to this cooperative.")


class PublicDistrict(BaseModel):
    ubigeo: str | None
    district: str | None
    province: str | None
    region: str | None
    share_pct: JsonDecimal


class PublicOrigin(BaseModel):
    country: str = Field(default="PE", description="ISO 3166-1 alpha-2.")
    farmers: int = Field(description="How many farmers' deliveries went into the lot.")
    plots: int
    deliveries: int
    harvested_from: date
    harvested_to: date
    districts: list[PublicDistrict]
    named_farmers: list[str] = Field(
        description="Names of the farmers who agreed to be named publicly; the others are only counted."
    )
    # The registry's own drawing data (its client's schema): Peru's outline and each district's place.
    map: CoarseMap | None = Field(
        default=None,
        description="Peru and the districts of origin, to 0.1°; absent if the registry did not answer.",
    )


class JourneyStep(BaseModel):
    stage: Stage
    count: int = Field(description="How many such events (e.g. deliveries, fermentation batches).")
    first_at: datetime
    last_at: datetime
    place: str | None = Field(default=None, description="Where, when the ledger says (fair, port, country).")


class PublicQuality(BaseModel):
    measured_at: datetime
    moisture_pct: JsonDecimal | None = None
    cupping_score: JsonDecimal | None = None
    well_fermented_pct: JsonDecimal | None = None
    grade: str | None = None


class PublicCertificate(BaseModel):
    number: str
    certifying_body: str
    certifying_body_code: str
    valid_from: date
    valid_to: date


class PublicVerifications(BaseModel):
    """How the plots were verified, told without naming them."""

    count: int
    methods: list[str] = Field(description="field_visit, satellite, document.")
    first_on: date
    last_on: date


class PublicClaim(BaseModel):
    status: Literal["verified", "not_verified", "failed"]
    certificates: list[PublicCertificate] = []
    verifications: PublicVerifications | None = None


class PublicClaims(BaseModel):
    """Computed by the certification service from every plot behind the lot (``gs1:certificationInfo``
    has its full reasons)."""

    available: bool = Field(description="False when the certification service could not be asked.")
    organic: dict[str, PublicClaim] = Field(default={}, description="Per standard, e.g. EU_2018_848.")
    coca_free: PublicClaim | None = None
    deforestation_free: PublicClaim | None = None


class PublicLot(BaseModel):
    code: str
    digital_link: str
    gtin: str | None
    product: Product
    form: Form
    quantity_kg: JsonDecimal
    cooperatives: list[PublicCooperative]
    origin: PublicOrigin
    journey: list[JourneyStep]
    quality: PublicQuality | None
    claims: PublicClaims
    updated_at: datetime = Field(description="When the ledger last recorded something about this lot.")


class DayScans(BaseModel):
    day: date
    scans: int


class LotScans(BaseModel):
    lot_id: str
    total: int = Field(
        description="Times the lot's page was opened from its QR code (no personal data kept)."
    )
    days: list[DayScans]
