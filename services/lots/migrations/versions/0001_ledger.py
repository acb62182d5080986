"""Ledger: lots, their state, events, lineage edges, deliveries, fairs; append-only guards.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.lots.models import LEDGER_TABLES
from shared.db import UTCDateTime
from shared.idempotency import idempotency_columns, table_name

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_tables()
    _guard_ledger()


def _create_tables() -> None:
    op.create_table(
        "fairs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_fairs_dates_in_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fairs")),
    )
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.create_index("ix_fairs_created", ["created_at", "id"], unique=False)

    op.create_table(
        "lots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=16), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.Column("cooperative_id", sa.String(length=40), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("harvested_on", sa.Date(), nullable=True),
        sa.Column("created_event_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("quantity_g > 0", name=op.f("ck_lots_positive_quantity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
        sa.UniqueConstraint("code", name=op.f("uq_lots_code")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_cooperative", ["cooperative_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_lots_created", ["created_at", "id"], unique=False)

    op.create_table(table_name("lots"), *idempotency_columns())

    op.create_table(
        "deliveries",
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("cooperative_id", sa.String(length=40), nullable=False),
        sa.Column("farmer_id", sa.String(length=40), nullable=False),
        sa.Column("plot_id", sa.String(length=40), nullable=False),
        sa.Column("farmer_name", sa.String(length=200), nullable=False),
        sa.Column("farmer_public_name_consent", sa.Boolean(), nullable=False),
        sa.Column("plot_name", sa.String(length=200), nullable=False),
        sa.Column("plot_area_ha", sa.String(length=20), nullable=False),
        sa.Column("ubigeo", sa.String(length=6), nullable=True),
        sa.Column("region", sa.String(length=80), nullable=True),
        sa.Column("province", sa.String(length=80), nullable=True),
        sa.Column("district", sa.String(length=80), nullable=True),
        sa.Column("harvested_on", sa.Date(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_deliveries_lot_id_lots")),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_farmer", ["farmer_id"], unique=False)
        batch_op.create_index("ix_deliveries_plot", ["plot_id"], unique=False)

    op.create_table(
        "lot_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("corrects_event_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_event_id"], ["lot_events.id"], name=op.f("fk_lot_events_corrects_event_id_lot_events")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_events_lot_id_lots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_events")),
    )
    with op.batch_alter_table("lot_events", schema=None) as batch_op:
        batch_op.create_index("ix_lot_events_lot", ["lot_id", "event_time", "id"], unique=False)
        batch_op.create_index("uq_lot_events_corrects", ["corrects_event_id"], unique=True)

    op.create_table(
        "lot_states",
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.Column("remaining_g", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holder_organization", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("remaining_g <= quantity_g", name=op.f("ck_lot_states_remaining_within_quantity")),
        sa.CheckConstraint("remaining_g >= 0", name=op.f("ck_lot_states_remaining_not_negative")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_states_lot_id_lots")),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_lot_states")),
    )
    with op.batch_alter_table("lot_states", schema=None) as batch_op:
        batch_op.create_index("ix_lot_states_holder", ["holder_organization"], unique=False)
        batch_op.create_index("ix_lot_states_status", ["status"], unique=False)

    op.create_table(
        "fair_presentations",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("fair_id", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("presented_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["lot_events.id"], name=op.f("fk_fair_presentations_event_id_lot_events")
        ),
        sa.ForeignKeyConstraint(["fair_id"], ["fairs.id"], name=op.f("fk_fair_presentations_fair_id_fairs")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_fair_presentations_lot_id_lots")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_fair_presentations")),
    )
    with op.batch_alter_table("fair_presentations", schema=None) as batch_op:
        batch_op.create_index("ix_fair_presentations_fair", ["fair_id", "event_id"], unique=False)

    op.create_table(
        "lot_edges",
        sa.Column("parent_lot_id", sa.String(length=40), nullable=False),
        sa.Column("child_lot_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity_g > 0", name=op.f("ck_lot_edges_positive_quantity")),
        sa.ForeignKeyConstraint(["child_lot_id"], ["lots.id"], name=op.f("fk_lot_edges_child_lot_id_lots")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["lot_events.id"], name=op.f("fk_lot_edges_event_id_lot_events")
        ),
        sa.ForeignKeyConstraint(["parent_lot_id"], ["lots.id"], name=op.f("fk_lot_edges_parent_lot_id_lots")),
        sa.PrimaryKeyConstraint("parent_lot_id", "child_lot_id", name=op.f("pk_lot_edges")),
    )
    with op.batch_alter_table("lot_edges", schema=None) as batch_op:
        batch_op.create_index("ix_lot_edges_child", ["child_lot_id", "parent_lot_id"], unique=False)

    op.create_table(
        "lot_event_lots",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["lot_events.id"], name=op.f("fk_lot_event_lots_event_id_lot_events")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_event_lots_lot_id_lots")),
        sa.PrimaryKeyConstraint("event_id", "lot_id", "role", name=op.f("pk_lot_event_lots")),
    )
    with op.batch_alter_table("lot_event_lots", schema=None) as batch_op:
        batch_op.create_index("ix_lot_event_lots_lot", ["lot_id", "event_id"], unique=False)


def downgrade() -> None:
    _unguard_ledger()
    with op.batch_alter_table("lot_event_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_event_lots_lot")

    op.drop_table("lot_event_lots")
    with op.batch_alter_table("lot_edges", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_edges_child")

    op.drop_table("lot_edges")
    with op.batch_alter_table("fair_presentations", schema=None) as batch_op:
        batch_op.drop_index("ix_fair_presentations_fair")

    op.drop_table("fair_presentations")
    with op.batch_alter_table("lot_states", schema=None) as batch_op:
        batch_op.drop_index("ix_lot_states_status")
        batch_op.drop_index("ix_lot_states_holder")

    op.drop_table("lot_states")
    with op.batch_alter_table("lot_events", schema=None) as batch_op:
        batch_op.drop_index("uq_lot_events_corrects")
        batch_op.drop_index("ix_lot_events_lot")

    op.drop_table("lot_events")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_plot")
        batch_op.drop_index("ix_deliveries_farmer")

    op.drop_table("deliveries")
    op.drop_table(table_name("lots"))
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_created")
        batch_op.drop_index("ix_lots_cooperative")

    op.drop_table("lots")
    with op.batch_alter_table("fairs", schema=None) as batch_op:
        batch_op.drop_index("ix_fairs_created")

    op.drop_table("fairs")


def _guard_ledger() -> None:
    """The ledger is append-only (issue #3): the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION lots_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the % table is append-only: record a correction instead', TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION lots_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lots_append_only()"
            )
        return
    for table in LEDGER_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only: record a correction'); END"
            )


def _unguard_ledger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LEDGER_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS lots_append_only()")
        return
    for table in LEDGER_TABLES:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
