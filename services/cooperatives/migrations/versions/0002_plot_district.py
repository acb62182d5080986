"""Plots say which district they lie in: ubigeo, derived for the plots already registered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from services.cooperatives.reference import nearest_districts

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plots read, derived and written per round: memory stays flat however many plots are registered.
BATCH = 1000

# The table as this revision knows it, not the current model, which later revisions may change.
plots = sa.table(
    "plots",
    sa.column("id", sa.String),
    sa.column("centroid_lon", sa.Float),
    sa.column("centroid_lat", sa.Float),
    sa.column("ubigeo", sa.String),
)


def upgrade() -> None:
    # Nullable first, filled, then NOT NULL: existing rows have no district until the backfill.
    with op.batch_alter_table("plots") as batch:
        batch.add_column(sa.Column("ubigeo", sa.String(6), nullable=True))
    backfill(op.get_bind())
    with op.batch_alter_table("plots") as batch:
        batch.alter_column("ubigeo", existing_type=sa.String(6), nullable=False)


def backfill(connection: Connection) -> None:
    """The same derivation as a new plot without ``ubigeo`` gets: the nearest district's place."""
    after = ""
    while True:
        rows = connection.execute(
            sa.select(plots.c.id, plots.c.centroid_lon, plots.c.centroid_lat)
            .where(plots.c.id > after)
            .order_by(plots.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        found = nearest_districts([r.centroid_lon for r in rows], [r.centroid_lat for r in rows])
        connection.execute(
            plots.update().where(plots.c.id == sa.bindparam("plot_id")).values(ubigeo=sa.bindparam("code")),
            [{"plot_id": r.id, "code": d.ubigeo} for r, d in zip(rows, found, strict=True)],
        )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("plots") as batch:
        batch.drop_column("ubigeo")
