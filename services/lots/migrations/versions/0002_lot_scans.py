"""Scans of each lot's public page, counted per day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lot_scans",
        sa.Column("lot_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("scans > 0", name=op.f("ck_lot_scans_positive_scans")),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_scans_lot_id_lots")),
        sa.PrimaryKeyConstraint("lot_id", "day", name=op.f("pk_lot_scans")),
    )


def downgrade() -> None:
    op.drop_table("lot_scans")
