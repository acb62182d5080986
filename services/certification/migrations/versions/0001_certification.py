"""Certification: bodies, certificates and their scope and history, verifications, monitoring layers.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.certification.models import APPEND_ONLY_TABLES
from shared.db import UTCDateTime
from shared.idempotency import idempotency_columns, table_name

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_tables()
    _guard_history()


def _create_tables() -> None:
    op.create_table(table_name("certification"), *idempotency_columns())
    op.create_table(
        "certifying_bodies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certifying_bodies")),
        sa.UniqueConstraint("code", name=op.f("uq_certifying_bodies_code")),
    )
    op.create_table(
        "monitoring_layers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("coverage", sa.Text(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("plots_checked", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_layers")),
    )
    with op.batch_alter_table("monitoring_layers", schema=None) as batch_op:
        batch_op.create_index("ix_monitoring_layers_created", ["created_at", "id"], unique=False)

    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("plot_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("verified_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("verifier", sa.String(length=200), nullable=False),
        sa.Column("evidence", sa.String(length=500), nullable=True),
        sa.Column("certifying_body_id", sa.String(length=40), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index("ix_verifications_plot", ["plot_id", "kind", "verified_on"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("certifying_body_id", sa.String(length=40), nullable=False),
        sa.Column("standard", sa.String(length=32), nullable=False),
        sa.Column("cooperative_id", sa.String(length=40), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_certificates_validity_in_order")),
        sa.ForeignKeyConstraint(
            ["certifying_body_id"],
            ["certifying_bodies.id"],
            name=op.f("fk_certificates_certifying_body_id_certifying_bodies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint(
            "certifying_body_id", "number", name=op.f("uq_certificates_certifying_body_id_number")
        ),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index("ix_certificates_cooperative", ["cooperative_id", "created_at"], unique=False)

    op.create_table(
        "layer_features",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("layer_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dated_on", sa.Date(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["layer_id"], ["monitoring_layers.id"], name=op.f("fk_layer_features_layer_id_monitoring_layers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layer_features")),
    )
    with op.batch_alter_table("layer_features", schema=None) as batch_op:
        batch_op.create_index(
            "ix_layer_features_bbox", ["kind", "min_lon", "max_lon", "min_lat", "max_lat"], unique=False
        )

    op.create_table(
        "certificate_attachments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("certificate_id", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("attached_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificate_attachments_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_attachments")),
        sa.UniqueConstraint(
            "certificate_id", "lot_id", name=op.f("uq_certificate_attachments_certificate_id_lot_id")
        ),
    )
    op.create_table(
        "certificate_scope",
        sa.Column("certificate_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificate_scope_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("certificate_id", "kind", "subject_id", name=op.f("pk_certificate_scope")),
    )
    with op.batch_alter_table("certificate_scope", schema=None) as batch_op:
        batch_op.create_index("ix_certificate_scope_subject", ["subject_id"], unique=False)

    op.create_table(
        "certificate_status_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("certificate_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificate_status_events_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_status_events")),
    )
    with op.batch_alter_table("certificate_status_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_certificate_status_events_certificate", ["certificate_id", "recorded_at"], unique=False
        )

    op.create_table(
        "plot_flags",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("layer_id", sa.String(length=40), nullable=False),
        sa.Column("feature_id", sa.String(length=40), nullable=False),
        sa.Column("plot_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dated_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["layer_features.id"], name=op.f("fk_plot_flags_feature_id_layer_features")
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"], ["monitoring_layers.id"], name=op.f("fk_plot_flags_layer_id_monitoring_layers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plot_flags")),
        sa.UniqueConstraint("feature_id", "plot_id", name=op.f("uq_plot_flags_feature_id_plot_id")),
    )
    with op.batch_alter_table("plot_flags", schema=None) as batch_op:
        batch_op.create_index("ix_plot_flags_layer", ["layer_id", "id"], unique=False)
        batch_op.create_index("ix_plot_flags_plot", ["plot_id"], unique=False)


def _guard_history() -> None:
    """A certificate's history is append-only: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION certification_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the % table is append-only', TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION certification_append_only()"
            )
        return
    for table in APPEND_ONLY_TABLES:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only'); END"
            )


def _unguard_history() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS certification_append_only()")
        return
    for table in APPEND_ONLY_TABLES:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def downgrade() -> None:
    _unguard_history()
    with op.batch_alter_table("plot_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_plot_flags_plot")
        batch_op.drop_index("ix_plot_flags_layer")

    op.drop_table("plot_flags")
    with op.batch_alter_table("certificate_status_events", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_status_events_certificate")

    op.drop_table("certificate_status_events")
    with op.batch_alter_table("certificate_scope", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_scope_subject")

    op.drop_table("certificate_scope")
    op.drop_table("certificate_attachments")
    with op.batch_alter_table("layer_features", schema=None) as batch_op:
        batch_op.drop_index("ix_layer_features_bbox")

    op.drop_table("layer_features")
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certificates_cooperative")

    op.drop_table("certificates")
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_verifications_plot")

    op.drop_table("verifications")
    with op.batch_alter_table("monitoring_layers", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_layers_created")

    op.drop_table("monitoring_layers")
    op.drop_table("certifying_bodies")
    op.drop_table(table_name("certification"))
