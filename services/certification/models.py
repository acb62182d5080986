"""The certification service's own tables.

Plots, farmers, cooperatives and lots live in other services: they are referenced here by id only
(no cross-service foreign keys). ``certificate_status_events`` is the history of suspensions,
withdrawals and reinstatements: rows are only inserted (the migration refuses UPDATE and DELETE);
``certificates.status`` is its projection, changed in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, utcnow
from shared.idempotency import idempotency_table

SERVICE: Final = "certification"
APPEND_ONLY_TABLES: Final = ("certificate_status_events",)


class Base(DeclarativeBase):
    metadata = new_metadata()


idempotency_keys = idempotency_table(Base.metadata, SERVICE)


class CertifyingBody(Base):
    __tablename__ = "certifying_bodies"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    standards: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("certifying_body_id", "number"),
        CheckConstraint("valid_to >= valid_from", name="validity_in_order"),
        Index("ix_certificates_cooperative", "cooperative_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    number: Mapped[str] = mapped_column(String(80))
    certifying_body_id: Mapped[str] = mapped_column(ForeignKey("certifying_bodies.id"))
    standard: Mapped[str] = mapped_column(String(32))
    cooperative_id: Mapped[str] = mapped_column(String(40))
    products: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CertificateScope(Base):
    """One farmer or plot covered by a certificate (the group's internal control system)."""

    __tablename__ = "certificate_scope"
    __table_args__ = (Index("ix_certificate_scope_subject", "subject_id"),)

    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)


class CertificateStatusEvent(Base):
    __tablename__ = "certificate_status_events"
    __table_args__ = (Index("ix_certificate_status_events_certificate", "certificate_id", "recorded_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"))
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attachment(Base):
    __tablename__ = "certificate_attachments"
    __table_args__ = (UniqueConstraint("certificate_id", "lot_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"))
    lot_id: Mapped[str] = mapped_column(String(40))
    attached_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Verification(Base):
    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_plot", "plot_id", "kind", "verified_on"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    plot_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(24))
    result: Mapped[str] = mapped_column(String(8))
    verified_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    verifier: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[str | None] = mapped_column(String(500))
    certifying_body_id: Mapped[str | None] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitoringLayer(Base):
    __tablename__ = "monitoring_layers"
    __table_args__ = (Index("ix_monitoring_layers_created", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    observed_on: Mapped[date] = mapped_column(Date)
    features: Mapped[int] = mapped_column(Integer)
    # The area the layer was searched over (GeoJSON): a plot inside it with no forest-loss feature
    # is a clean check. Its bounding box lets a query skip layers far from a lot's plots.
    coverage: Mapped[str] = mapped_column(Text)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    plots_checked: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LayerFeature(Base):
    __tablename__ = "layer_features"
    __table_args__ = (Index("ix_layer_features_bbox", "kind", "min_lon", "max_lon", "min_lat", "max_lat"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    layer_id: Mapped[str] = mapped_column(ForeignKey("monitoring_layers.id"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    dated_on: Mapped[date | None] = mapped_column(Date)
    name: Mapped[str | None] = mapped_column(String(200))
    geometry: Mapped[str] = mapped_column(Text)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


class PlotFlag(Base):
    """A plot that intersected a layer's feature when the layer was loaded."""

    __tablename__ = "plot_flags"
    __table_args__ = (
        UniqueConstraint("feature_id", "plot_id"),
        Index("ix_plot_flags_plot", "plot_id"),
        Index("ix_plot_flags_layer", "layer_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    layer_id: Mapped[str] = mapped_column(ForeignKey("monitoring_layers.id"))
    feature_id: Mapped[str] = mapped_column(ForeignKey("layer_features.id"))
    plot_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    dated_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
