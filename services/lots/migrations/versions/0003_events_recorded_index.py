"""An index on when events were recorded: the public pages' change watch reads the latest ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_lot_events_recorded", "lot_events", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_lot_events_recorded", table_name="lot_events")
