"""Request and response bodies of the certification service (API.md: Certification service)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError


class Standard(StrEnum):
    EU_2018_848 = "EU_2018_848"
    USDA_NOP = "USDA_NOP"
    JAS = "JAS"
    FAIRTRADE = "FAIRTRADE"
    RAINFOREST_ALLIANCE = "RAINFOREST_ALLIANCE"


class Product(StrEnum):
    CACAO = "cacao"
    COFFEE = "coffee"


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class ClaimStatus(StrEnum):
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    FAILED = "failed"


class VerificationKind(StrEnum):
    COCA_FREE = "coca_free"
    DEFORESTATION_FREE = "deforestation_free"


class LayerKind(StrEnum):
    COCA = "coca"
    FOREST_LOSS = "forest_loss"
    PROTECTED_AREA = "protected_area"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CertifyingBodyCreate(Strict):
    name: Name
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._-]{2,40}$")] = Field(
        description="The control body's code, e.g. `PE-BIO-149`."
    )
    standards: list[Standard] = Field(min_length=1)


class CertifyingBodyRead(BaseModel):
    id: str
    name: str
    code: str
    standards: list[Standard]
    created_at: datetime


class Scope(Strict):
    farmer_ids: list[Id] = Field(default_factory=list, max_length=20_000)
    plot_ids: list[Id] = Field(default_factory=list, max_length=20_000)

    @model_validator(mode="after")
    def _not_empty(self) -> Scope:
        if not self.farmer_ids and not self.plot_ids:
            raise PydanticCustomError("scope_empty", "A certificate must cover at least one farmer or plot.")
        return self


class CertificateCreate(Strict):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    certifying_body_id: Id
    standard: Standard
    cooperative_id: Id
    products: list[Product] = Field(min_length=1)
    valid_from: date
    valid_to: date
    scope: Scope

    @model_validator(mode="after")
    def _validity_in_order(self) -> CertificateCreate:
        if self.valid_to < self.valid_from:
            raise PydanticCustomError("validity_reversed", "valid_to is before valid_from.")
        return self


class StatusChange(Strict):
    reason: Reason


class StatusEventRead(BaseModel):
    action: Literal["issue", "suspend", "withdraw", "reinstate"]
    status: CertificateStatus
    reason: str
    recorded_by: str
    recorded_at: datetime


class CertificateRead(BaseModel):
    id: str
    number: str
    certifying_body_id: str
    standard: Standard
    cooperative_id: str
    products: list[Product]
    valid_from: date
    valid_to: date
    status: CertificateStatus
    scope: Scope
    history: list[StatusEventRead] = Field(
        description="Suspensions, withdrawals, reinstatements, oldest first."
    )
    created_at: datetime


class CertificateSummary(BaseModel):
    """A certificate in a list (without its scope, which can name thousands of plots)."""

    id: str
    number: str
    certifying_body_id: str
    standard: Standard
    cooperative_id: str
    products: list[Product]
    valid_from: date
    valid_to: date
    status: CertificateStatus
    created_at: datetime


class AffectedLot(BaseModel):
    lot_id: str
    code: str
    product: str
    form: str
    status: str
    cooperative_id: str | None


class AffectedLots(BaseModel):
    certificate_id: str
    items: list[AffectedLot]


class AttachmentCreate(Strict):
    lot_id: Id


class AttachmentRead(BaseModel):
    id: str
    certificate_id: str
    lot_id: str
    attached_by: str
    created_at: datetime


class VerificationCreate(Strict):
    plot_id: Id
    kind: VerificationKind
    result: Literal["pass", "fail"]
    verified_on: date
    method: Literal["field_visit", "satellite", "document"]
    verifier: Name
    evidence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _not_in_future(self) -> VerificationCreate:
        if self.verified_on > date.today():
            raise PydanticCustomError("date_in_future", "verified_on is in the future.")
        return self


class VerificationRead(BaseModel):
    id: str
    plot_id: str
    kind: VerificationKind
    result: Literal["pass", "fail"]
    verified_on: date
    method: Literal["field_visit", "satellite", "document"]
    verifier: str
    evidence: str | None
    certifying_body_id: str | None
    created_at: datetime


class LayerCreate(Strict):
    kind: LayerKind
    source: Name = Field(description="Where the layer comes from, e.g. `DEVIDA 2025`, `GFW 2024`.")
    observed_on: date = Field(description="When it was observed; the default for coca features.")
    features: dict[str, Any] = Field(description="A GeoJSON FeatureCollection (RFC 7946, WGS84).")
    coverage: dict[str, Any] | None = Field(
        default=None,
        description="The area the layer was searched over (GeoJSON Polygon or MultiPolygon); a plot "
        "inside a forest-loss layer's coverage with no loss feature is a clean check. Default: the "
        "bounding box of the features.",
    )


class LayerRead(BaseModel):
    id: str
    kind: LayerKind
    source: str
    observed_on: date
    features: int
    plots_checked: int = Field(
        description="Plots of the registry compared with the layer when it was loaded."
    )
    plots_flagged: int
    created_at: datetime


class PlotFlagRead(BaseModel):
    plot_id: str
    layer_id: str
    feature: str = Field(description="The feature's label: its `id`, or its position in the collection.")
    kind: LayerKind
    dated_on: date | None


class ClaimCertificate(BaseModel):
    """What a buyer is shown of a certificate a claim rests on: nothing about its scope."""

    id: str
    number: str
    standard: Standard
    certifying_body: str = Field(description="The control body's name.")
    certifying_body_code: str
    valid_from: date
    valid_to: date
    status: CertificateStatus


class OrganicClaim(BaseModel):
    status: ClaimStatus
    certificate_ids: list[str]
    reason: str
    certificates: list[ClaimCertificate] = Field(
        default=[], description="The certificates in `certificate_ids`, with their number, body and validity."
    )


class Evidence(BaseModel):
    plot_id: str
    verification_id: str
    verified_on: date
    method: str


class CocaFreeClaim(BaseModel):
    status: ClaimStatus
    evidence: list[Evidence]
    reason: str


class DeforestationFreeClaim(BaseModel):
    status: ClaimStatus
    reason: str


# Lots per claims request: the claims of one lot cost a lineage and every plot's evidence.
MAX_CLAIMS_LOTS = 100


class ClaimsAsk(Strict):
    """Lots whose claims to compute in one request."""

    lot_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_CLAIMS_LOTS,
        description="Lot ids; unknown ones are left out of the answer.",
    )


class ClaimsOfLots(BaseModel):
    items: list[Claims] = Field(
        description="Each known lot's claims, as GET /claims/lots/{lot_id} gives them."
    )


class ClaimsVersion(BaseModel):
    version: str = Field(
        description="Changes whenever any certificate, status, verification or layer is added: claims "
        "computed under the same version are still the same (for the ledger's part, see the lot's)."
    )


class Claims(BaseModel):
    lot_id: str
    organic: dict[Standard, OrganicClaim]
    coca_free: CocaFreeClaim
    deforestation_free: DeforestationFreeClaim
    computed_at: datetime
