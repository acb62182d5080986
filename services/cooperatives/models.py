"""The registry's own tables: cooperatives, their users, farmers and plots."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, utcnow
from shared.idempotency import idempotency_table

SERVICE: Final = "cooperatives"


class Base(DeclarativeBase):
    metadata = new_metadata()


idempotency_keys = idempotency_table(Base.metadata, SERVICE)


class Cooperative(Base):
    __tablename__ = "cooperatives"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    ruc: Mapped[str] = mapped_column(String(11), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    ubigeo: Mapped[str] = mapped_column(String(6))
    region: Mapped[str] = mapped_column(String(80))
    province: Mapped[str] = mapped_column(String(80))
    district: Mapped[str] = mapped_column(String(80))
    products: Mapped[list[str]] = mapped_column(JSON)
    gs1_company_prefix: Mapped[str | None] = mapped_column(String(12))
    gln: Mapped[str | None] = mapped_column(String(13))
    gtins: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Accent- and case-folded name and RUC, so `?q=` finds "Asociación" when typed "asociacion".
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_cooperatives_created", "created_at", "id"),
        Index("ix_cooperatives_region", "ubigeo"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    cooperative_id: Mapped[str | None] = mapped_column(ForeignKey("cooperatives.id"))
    # Certifying bodies live in the certification service: a plain reference, no foreign key.
    certifying_body_id: Mapped[str | None] = mapped_column(String(40))
    organization: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_users_created", "created_at", "id"),)


class Farmer(Base):
    __tablename__ = "farmers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cooperative_id: Mapped[str] = mapped_column(ForeignKey("cooperatives.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Accent- and case-folded name: "JOSÉ PÉREZ" is "José Perez" (SQLite's lower() is ASCII-only).
    name_key: Mapped[str] = mapped_column(String(200))
    dni: Mapped[str | None] = mapped_column(String(8))
    gender: Mapped[str | None] = mapped_column(String(24))
    joined_on: Mapped[date | None] = mapped_column(Date)
    public_name_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("cooperative_id", "dni"),
        Index("ix_farmers_cooperative", "cooperative_id", "created_at", "id"),
        Index("ix_farmers_name_key", "cooperative_id", "name_key"),
    )


class Plot(Base):
    __tablename__ = "plots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    farmer_id: Mapped[str] = mapped_column(ForeignKey("farmers.id"))
    cooperative_id: Mapped[str] = mapped_column(ForeignKey("cooperatives.id"))
    name: Mapped[str] = mapped_column(String(200))
    crop: Mapped[str] = mapped_column(String(16))
    geometry_type: Mapped[str] = mapped_column(String(16))
    # GeoJSON text exactly as received: the EUDR needs the surveyed digits, not a float's rounding.
    geometry: Mapped[str] = mapped_column(Text)
    area_ha: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)
    # INEI district: as registered, or derived from the centroid (reference.nearest_districts).
    ubigeo: Mapped[str] = mapped_column(String(6))
    altitude_m: Mapped[int | None] = mapped_column(Integer)
    organic_since: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        # A member names each plot once: a re-sent registration must not become a second plot.
        UniqueConstraint("farmer_id", "name"),
        Index("ix_plots_cooperative", "cooperative_id", "created_at", "id"),
        Index("ix_plots_farmer", "farmer_id"),
    )


def as_dict(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
