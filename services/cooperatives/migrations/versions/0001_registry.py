"""Registry: cooperatives, users, farmers, plots, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.idempotency import idempotency_columns, table_name

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cooperatives",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ruc", sa.String(11), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("ubigeo", sa.String(6), nullable=False),
        sa.Column("region", sa.String(80), nullable=False),
        sa.Column("province", sa.String(80), nullable=False),
        sa.Column("district", sa.String(80), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("gs1_company_prefix", sa.String(12), nullable=True),
        sa.Column("gln", sa.String(13), nullable=True),
        sa.Column("gtins", sa.JSON(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cooperatives")),
        sa.UniqueConstraint("ruc", name=op.f("uq_cooperatives_ruc")),
    )
    op.create_index("ix_cooperatives_created", "cooperatives", ["created_at", "id"])
    op.create_index("ix_cooperatives_region", "cooperatives", ["ubigeo"])

    op.create_table(
        "users",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("cooperative_id", sa.String(40), nullable=True),
        sa.Column("certifying_body_id", sa.String(40), nullable=True),
        sa.Column("organization", sa.String(200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cooperative_id"], ["cooperatives.id"], name=op.f("fk_users_cooperative_id_cooperatives")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index("ix_users_created", "users", ["created_at", "id"])

    op.create_table(
        "farmers",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("cooperative_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("dni", sa.String(8), nullable=True),
        sa.Column("gender", sa.String(24), nullable=True),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("public_name_consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cooperative_id"], ["cooperatives.id"], name=op.f("fk_farmers_cooperative_id_cooperatives")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farmers")),
        sa.UniqueConstraint("cooperative_id", "dni", name=op.f("uq_farmers_cooperative_id_dni")),
    )
    op.create_index("ix_farmers_cooperative", "farmers", ["cooperative_id", "created_at", "id"])
    op.create_index("ix_farmers_name_key", "farmers", ["cooperative_id", "name_key"])

    op.create_table(
        "plots",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("farmer_id", sa.String(40), nullable=False),
        sa.Column("cooperative_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("crop", sa.String(16), nullable=False),
        sa.Column("geometry_type", sa.String(16), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("area_ha", sa.Numeric(14, 4), nullable=False),
        sa.Column("centroid_lon", sa.Float(), nullable=False),
        sa.Column("centroid_lat", sa.Float(), nullable=False),
        sa.Column("altitude_m", sa.Integer(), nullable=True),
        sa.Column("organic_since", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["farmer_id"], ["farmers.id"], name=op.f("fk_plots_farmer_id_farmers")),
        sa.ForeignKeyConstraint(
            ["cooperative_id"], ["cooperatives.id"], name=op.f("fk_plots_cooperative_id_cooperatives")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plots")),
        sa.UniqueConstraint("farmer_id", "name", name=op.f("uq_plots_farmer_id_name")),
    )
    op.create_index("ix_plots_cooperative", "plots", ["cooperative_id", "created_at", "id"])
    op.create_index("ix_plots_farmer", "plots", ["farmer_id"])

    op.create_table(table_name("cooperatives"), *idempotency_columns())


def downgrade() -> None:
    op.drop_table(table_name("cooperatives"))
    op.drop_table("plots")
    op.drop_table("farmers")
    op.drop_table("users")
    op.drop_table("cooperatives")
