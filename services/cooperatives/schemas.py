"""Request and response bodies of the registry (API.md: Identity, Registry)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.auth import Role
from shared.errors import RowError
from shared.types import JsonDecimal


class Product(StrEnum):
    CACAO = "cacao"
    COFFEE = "coffee"


class CooperativeKind(StrEnum):
    COOPERATIVE = "cooperative"
    ASSOCIATION = "association"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _past_date(value: date | None) -> date | None:
    # A member who has not joined yet, or a conversion that has not started, is a typing slip.
    if value is not None and value > date.today():
        raise PydanticCustomError(
            "date_in_future", "The date {value} is in the future.", {"value": str(value)}
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserCreate(Strict):
    # Stored lower-case: phones capitalise the first letter of a login field.
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9_.@-]{3,64}$")
    ]
    password: Annotated[str, StringConstraints(min_length=10, max_length=256)]
    role: Role
    cooperative_id: str | None = None
    certifying_body_id: str | None = None
    organization: Name | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    role: Role
    cooperative_id: str | None
    certifying_body_id: str | None
    organization: str | None
    is_active: bool
    created_at: datetime


class CooperativeCreate(Strict):
    name: Name
    ruc: str = Field(description="11-digit RUC of a legal entity (starts with 20), check digit verified.")
    kind: CooperativeKind
    ubigeo: str = Field(
        description="6-digit INEI district code; expanded into region, province and district."
    )
    products: list[Product] = Field(min_length=1)
    gs1_company_prefix: str | None = None
    gln: str | None = None
    gtins: dict[Product, str] | None = Field(default=None, description="GTIN per product, 8 to 14 digits.")


class CooperativeUpdate(Strict):
    """Only the fields sent change; ``null`` clears an optional GS1 field and is refused for the rest."""

    name: Name | None = None
    kind: CooperativeKind | None = None
    ubigeo: str | None = None
    products: list[Product] | None = Field(default=None, min_length=1)
    gs1_company_prefix: str | None = None
    gln: str | None = None
    gtins: dict[Product, str] | None = None

    @model_validator(mode="after")
    def _required_fields_are_not_cleared(self) -> CooperativeUpdate:
        for name in ("name", "kind", "ubigeo", "products"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("not_nullable", f"{name} cannot be null; leave it out to keep it.")
        return self


class CooperativeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    ruc: str
    kind: CooperativeKind
    ubigeo: str
    region: str
    province: str
    district: str
    products: list[Product]
    gs1_company_prefix: str | None
    gln: str | None
    gtins: dict[Product, str] | None
    created_at: datetime
    updated_at: datetime


class FarmerCreate(Strict):
    name: Name
    dni: str | None = Field(default=None, description="8-digit DNI; never shown on public endpoints.")
    gender: Gender | None = None
    joined_on: date | None = None
    public_name_consent: bool = Field(description="The farmer agreed to have their name shown to buyers.")

    @field_validator("joined_on")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        return _past_date(value)


class FarmerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    cooperative_id: str
    name: str
    dni: str | None
    gender: Gender | None
    joined_on: date | None
    public_name_consent: bool
    created_at: datetime


class PlotCreate(Strict):
    name: Name
    crop: Product
    geometry: dict[str, Any] = Field(
        description="GeoJSON Point or Polygon, WGS84 [longitude, latitude], 6 decimals per coordinate."
    )
    area_ha: Decimal | None = Field(
        default=None, gt=0, description="Required for points; computed for polygons."
    )
    altitude_m: int | None = Field(default=None, ge=0, le=6000)
    organic_since: date | None = Field(default=None, description="Start of organic conversion.")
    ubigeo: str | None = Field(
        default=None,
        description=(
            "6-digit INEI code of the district the plot lies in; a code that names no district is "
            "refused (422, `ubigeo_unknown`). Left out, it is derived from the geometry: the district "
            "whose named populated place is nearest to the plot's centroid, which is approximate near "
            "district borders."
        ),
    )

    @field_validator("organic_since")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        return _past_date(value)


class PlotRead(BaseModel):
    id: str
    farmer_id: str
    cooperative_id: str
    name: str
    crop: Product
    geometry: dict[str, Any] = Field(
        description="GeoJSON with the coordinates' digits exactly as registered."
    )
    area_ha: JsonDecimal
    altitude_m: int | None
    organic_since: date | None
    ubigeo: str = Field(
        description=(
            "6-digit INEI code of the district the plot lies in: the `ubigeo` given when the plot was "
            "registered or, when none was, the district whose named populated place is nearest to the "
            "plot's centroid. A derived district is approximate near district borders; register the "
            "plot with `ubigeo` (or the import's `ubigeo` column) to set it exactly."
        )
    )
    region: str = Field(description="Department (región) of `ubigeo`, e.g. San Martín.")
    province: str = Field(description="Province of `ubigeo`.")
    district: str = Field(description="District name of `ubigeo` (INEI).")
    created_at: datetime
    # The stored GeoJSON text: rendered verbatim, since a float would drop the surveyed trailing zeros.
    _geometry_text: str | None = PrivateAttr(default=None)


class PlotLookup(Strict):
    """Plot ids to read in one request (a GET's query string cannot carry thousands of ids)."""

    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        max_length=10_000, description="Plot ids; unknown or invisible ones are left out of the answer."
    )


class PlotOrigin(BaseModel):
    """A plot with the farmer who works it and their cooperative, read together."""

    plot: PlotRead
    farmer: FarmerRead
    cooperative: CooperativeRead


ImportRowError = RowError


class Me(BaseModel):
    """The caller, as the bearer token says."""

    id: str
    username: str
    role: Role
    cooperative_id: str | None
    certifying_body_id: str | None
    organization: str | None


class ImportResult(BaseModel):
    created: int = Field(description="Objects written (0 on a dry run).")
    rows: int = Field(description="Data rows read.")
    dry_run: bool
    plots_created: int | None = None
    would_create: int | None = Field(
        default=None, description="On a dry run: objects a real import would write."
    )
    would_create_plots: int | None = Field(
        default=None, description="On a dry run: plots a real import would write."
    )
    errors: list[ImportRowError] = []


class CoarsePlace(BaseModel):
    ubigeo: str
    lon: float = Field(description="Longitude to 0.1°.")
    lat: float = Field(description="Latitude to 0.1°.")


class CoarseMap(BaseModel):
    """Enough to draw where in Peru places are, at ~11 km: nothing finer is public."""

    outline: list[tuple[float, float]] = Field(description="Peru's mainland outline, (lon, lat) to 0.1°.")
    places: list[CoarsePlace] = Field(description="The named place of each district asked that has one.")
