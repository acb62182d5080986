"""The ledger's own tables.

``lots``, ``lot_events``, ``lot_event_lots``, ``lot_edges``, ``deliveries`` and
``fair_presentations`` are the ledger: rows are only ever inserted (the migration installs triggers
that refuse UPDATE and DELETE on both engines). ``lot_states`` is a projection of that ledger —
what is left of each lot, its status and who holds it — kept in the same transaction as the
events that change it. What is left of a lot is its weight (after weight corrections) less the
kilograms its out-edges took (an edge of a transformation declared "did not occur" took nothing);
the tests check the projection against that after every step.

Weights are stored as integer grams: exact on both engines (SQLite has no decimal type), and the
API's kilograms have at most three decimals.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, new_metadata, utcnow
from shared.idempotency import idempotency_table

SERVICE: Final = "lots"
LEDGER_TABLES: Final = (
    "lots",
    "lot_events",
    "lot_event_lots",
    "lot_edges",
    "deliveries",
    "fair_presentations",
)


class Base(DeclarativeBase):
    metadata = new_metadata()


idempotency_keys = idempotency_table(Base.metadata, SERVICE)


class Lot(Base):
    """A quantity of one product in one form, as it came into being (never changed afterwards)."""

    __tablename__ = "lots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    origin: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(16))
    quantity_g: Mapped[int] = mapped_column(BigInteger)
    # Null for a container lot that an exporter merged from several cooperatives.
    cooperative_id: Mapped[str | None] = mapped_column(String(40))
    gtin: Mapped[str | None] = mapped_column(String(14))
    harvested_on: Mapped[date | None] = mapped_column(Date)
    created_event_id: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("quantity_g > 0", name="positive_quantity"),
        Index("ix_lots_cooperative", "cooperative_id", "created_at", "id"),
        Index("ix_lots_created", "created_at", "id"),
    )


class LotState(Base):
    """The projection: what is left, the status and the holder, updated with each event."""

    __tablename__ = "lot_states"

    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    # The lot's weight after corrections of the event that created it.
    quantity_g: Mapped[int] = mapped_column(BigInteger)
    remaining_g: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    # Null while the cooperative holds the lot; the exporter's organisation after a handover.
    holder_organization: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        # The last line of defence for mass balance: no code path can commit an overdrawn lot.
        CheckConstraint("remaining_g >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining_g <= quantity_g", name="remaining_within_quantity"),
        Index("ix_lot_states_holder", "holder_organization"),
        Index("ix_lot_states_status", "status"),
    )


class LotEvent(Base):
    """Something that happened to one or more lots; the shape of an EPCIS event."""

    __tablename__ = "lot_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    # The lot the event is about: the new lot of a delivery, merge or transformation, the split lot,
    # the observed lot.
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrects_event_id: Mapped[str | None] = mapped_column(ForeignKey("lot_events.id"))

    __table_args__ = (
        Index("ix_lot_events_lot", "lot_id", "event_time", "id"),
        # What was recorded lately: the public pages' change watch reads it every few seconds.
        Index("ix_lot_events_recorded", "recorded_at"),
        # One correction per event: a second one is refused by the database, not only by the code.
        Index("uq_lot_events_corrects", "corrects_event_id", unique=True),
    )


class LotEventLot(Base):
    """Every lot an event touched and how (subject, input, output): the timeline of each lot."""

    __tablename__ = "lot_event_lots"

    event_id: Mapped[str] = mapped_column(ForeignKey("lot_events.id"), primary_key=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)

    __table_args__ = (Index("ix_lot_event_lots_lot", "lot_id", "event_id"),)


class LotEdge(Base):
    """``quantity_g`` of ``parent`` went into ``child``: the lineage graph."""

    __tablename__ = "lot_edges"

    parent_lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    child_lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("lot_events.id"))
    quantity_g: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("quantity_g > 0", name="positive_quantity"),
        # The recursive lineage query walks from child to parent.
        Index("ix_lot_edges_child", "child_lot_id", "parent_lot_id"),
    )


class Delivery(Base):
    """Who delivered a delivery lot, from which plot: as the registry described them at the time."""

    __tablename__ = "deliveries"

    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    cooperative_id: Mapped[str] = mapped_column(String(40))
    farmer_id: Mapped[str] = mapped_column(String(40))
    plot_id: Mapped[str] = mapped_column(String(40))
    farmer_name: Mapped[str] = mapped_column(String(200))
    farmer_public_name_consent: Mapped[bool] = mapped_column(Boolean)
    plot_name: Mapped[str] = mapped_column(String(200))
    plot_area_ha: Mapped[str] = mapped_column(String(20))
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    region: Mapped[str | None] = mapped_column(String(80))
    province: Mapped[str | None] = mapped_column(String(80))
    district: Mapped[str | None] = mapped_column(String(80))
    harvested_on: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_deliveries_plot", "plot_id"),
        Index("ix_deliveries_farmer", "farmer_id"),
    )


class Fair(Base):
    __tablename__ = "fairs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        Index("ix_fairs_created", "created_at", "id"),
    )


class FairPresentation(Base):
    __tablename__ = "fair_presentations"

    event_id: Mapped[str] = mapped_column(ForeignKey("lot_events.id"), primary_key=True)
    fair_id: Mapped[str] = mapped_column(ForeignKey("fairs.id"))
    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"))
    presented_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_fair_presentations_fair", "fair_id", "event_id"),)


class LotScan(Base):
    """How often a lot's public page was opened from its QR code, per day: a count, nobody's data.

    Not part of the ledger (not append-only): a counter, added to in batches (public/scans.py).
    """

    __tablename__ = "lot_scans"

    lot_id: Mapped[str] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    scans: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("scans > 0", name="positive_scans"),)
