"""Request and response bodies of the registry (API.md: Identity, Registry)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.auth import Role
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserCreate(Strict):
    username: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
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
    name: Name | None = None
    kind: CooperativeKind | None = None
    ubigeo: str | None = None
    products: list[Product] | None = Field(default=None, min_length=1)
    gs1_company_prefix: str | None = None
    gln: str | None = None
    gtins: dict[Product, str] | None = None


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
    public_name_consent: bool = Field(
        default=False, description="The farmer agreed to have their name shown to buyers."
    )


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


class PlotRead(BaseModel):
    id: str
    farmer_id: str
    cooperative_id: str
    name: str
    crop: Product
    geometry: dict[str, Any]
    area_ha: JsonDecimal
    altitude_m: int | None
    organic_since: date | None
    created_at: datetime


class ImportRowError(BaseModel):
    line: int
    column: str | None
    code: str
    detail: str


class ImportResult(BaseModel):
    created: int = Field(description="Objects written (0 on a dry run).")
    rows: int = Field(description="Data rows read.")
    dry_run: bool
    plots_created: int | None = None
    errors: list[ImportRowError] = []
