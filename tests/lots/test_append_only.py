"""The ledger is append-only in the database itself, on both engines (migration 0001's triggers).

Whatever a bug or a person at a SQL prompt tries, UPDATE and DELETE on a ledger table fail; rows
can still be inserted; and the projection ``lot_states`` can never hold an overdrawn lot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from services.lots.models import (
    LEDGER_TABLES,
    Delivery,
    FairPresentation,
    Lot,
    LotEdge,
    LotEvent,
    LotEventLot,
)
from shared.db import Database
from tests.factories import create_origin, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
# A column of each table to write over (its own value: the trigger must refuse even a no-op).
COLUMN = {
    "lots": "code",
    "lot_events": "type",
    "lot_event_lots": "role",
    "lot_edges": "quantity_g",
    "deliveries": "farmer_name",
    "fair_presentations": "presented_by",
}


@pytest.fixture
async def ledger(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> dict[str, Any]:
    """A delivery, a merge and a fair presentation, so every ledger table has rows."""
    origin = await create_origin(api, admin_headers, headers_for)
    a = await deliver(api, origin, "100")
    b = await deliver(api, origin, "50")
    body = {"inputs": [{"lot_id": a["id"], "quantity_kg": "60"}, {"lot_id": b["id"], "quantity_kg": "40"}]}
    merged = await api.post(f"{LOTS}/merge", json=body, headers=origin.headers)
    assert merged.status_code == 201, merged.text
    fair_body = {
        "name": "Expoalimentaria",
        "city": "Lima",
        "starts_on": "2026-09-23",
        "ends_on": "2026-09-25",
    }
    fair = await api.post("/api/v1/fairs", json=fair_body, headers=origin.headers)
    assert fair.status_code == 201, fair.text
    shown = await api.post(
        f"{LOTS}/{merged.json()['id']}/events",
        json={"type": "fair", "fair_id": fair.json()["id"]},
        headers=origin.headers,
    )
    assert shown.status_code == 201, shown.text
    return {"a": a, "merged": merged.json(), "fair": fair.json()}


async def count(lots_db: Database, table: str) -> int:
    async with lots_db.transaction() as session:
        return int((await session.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())  # noqa: S608 - LEDGER_TABLES


@pytest.mark.parametrize("table", LEDGER_TABLES)
async def test_update_of_a_ledger_table_is_refused(lots_db: Database, ledger: Any, table: str) -> None:
    rows = await count(lots_db, table)
    assert rows > 0, f"{table} has no rows: the trigger would not even be tried"
    column = COLUMN[table]

    with pytest.raises(DBAPIError):  # IntegrityError is a DBAPIError
        async with lots_db.transaction() as session:
            await session.execute(text(f"UPDATE {table} SET {column} = {column}"))  # noqa: S608 - LEDGER_TABLES

    assert await count(lots_db, table) == rows


@pytest.mark.parametrize("table", LEDGER_TABLES)
async def test_delete_from_a_ledger_table_is_refused(lots_db: Database, ledger: Any, table: str) -> None:
    rows = await count(lots_db, table)
    assert rows > 0, f"{table} has no rows: the trigger would not even be tried"

    with pytest.raises(DBAPIError):
        async with lots_db.transaction() as session:
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - LEDGER_TABLES

    assert await count(lots_db, table) == rows


async def test_changing_a_lot_event_type_is_refused(lots_db: Database, ledger: Any) -> None:
    with pytest.raises(DBAPIError):
        async with lots_db.transaction() as session:
            await session.execute(text("UPDATE lot_events SET type='x'"))

    async with lots_db.transaction() as session:
        types = set((await session.execute(text("SELECT DISTINCT type FROM lot_events"))).scalars())
    assert types == {"delivery", "merge", "fair"}


@pytest.mark.parametrize("table", LEDGER_TABLES)
async def test_truncate_of_a_ledger_table_is_refused_on_postgresql(
    lots_db: Database, ledger: Any, backend: str, table: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE without WHERE is covered above)")
    rows = await count(lots_db, table)

    with pytest.raises(DBAPIError):
        async with lots_db.transaction() as session:
            await session.execute(text(f"TRUNCATE {table} CASCADE"))

    assert await count(lots_db, table) == rows


async def test_inserting_into_every_ledger_table_is_still_allowed(lots_db: Database, ledger: Any) -> None:
    before = {table: await count(lots_db, table) for table in LEDGER_TABLES}
    now = datetime.now(UTC)
    lot = {"origin": "delivery", "product": "cacao", "form": "baba", "quantity_g": 1000, "created_by": "sql"}

    async with lots_db.transaction() as session:
        for lot_id, code in (("lot_sqlparent", "SQL333333"), ("lot_sqlchild", "SQL444444")):
            values = {"id": lot_id, "code": code, "created_event_id": "evt_sql", "created_at": now}
            await session.execute(insert(Lot).values(**lot, **values))
        await session.execute(
            insert(LotEvent).values(
                id="evt_sql",
                type="merge",
                lot_id="lot_sqlchild",
                event_time=now,
                recorded_at=now,
                recorded_by="sql",
                data={},
            )
        )
        await session.execute(
            insert(LotEventLot).values(event_id="evt_sql", lot_id="lot_sqlchild", role="subject")
        )
        await session.execute(
            insert(LotEdge).values(
                parent_lot_id="lot_sqlparent",
                child_lot_id="lot_sqlchild",
                event_id="evt_sql",
                quantity_g=1000,
            )
        )
        await session.execute(
            insert(Delivery).values(
                lot_id="lot_sqlparent",
                cooperative_id="coop_x",
                farmer_id="frm_x",
                plot_id="plot_x",
                farmer_name="X",
                farmer_public_name_consent=False,
                plot_name="P",
                plot_area_ha="1.0",
                harvested_on=date(2026, 10, 1),
                received_at=now,
            )
        )
        await session.execute(
            insert(FairPresentation).values(
                event_id="evt_sql", fair_id=ledger["fair"]["id"], lot_id="lot_sqlchild"
            )
        )

    for table in LEDGER_TABLES:
        added = 2 if table == "lots" else 1
        assert await count(lots_db, table) == before[table] + added, table


# --- the projection ----------------------------------------------------------------------------


async def test_lot_states_refuses_a_negative_remaining_weight(lots_db: Database, ledger: Any) -> None:
    lot_id = ledger["a"]["id"]

    with pytest.raises(DBAPIError):
        async with lots_db.transaction() as session:
            await session.execute(
                text("UPDATE lot_states SET remaining_g = -1 WHERE lot_id = :id"), {"id": lot_id}
            )

    async with lots_db.transaction() as session:
        left = (
            await session.execute(
                text("SELECT remaining_g FROM lot_states WHERE lot_id = :id"), {"id": lot_id}
            )
        ).scalar_one()
    assert left == 40_000


async def test_lot_states_refuses_more_remaining_than_the_lot_weighs(lots_db: Database, ledger: Any) -> None:
    with pytest.raises(DBAPIError):
        async with lots_db.transaction() as session:
            await session.execute(
                text("UPDATE lot_states SET remaining_g = quantity_g + 1 WHERE lot_id = :id"),
                {"id": ledger["a"]["id"]},
            )


async def test_lot_states_is_a_projection_that_may_be_updated(lots_db: Database, ledger: Any) -> None:
    async with lots_db.transaction() as session:
        await session.execute(
            text("UPDATE lot_states SET remaining_g = 0, status = 'depleted' WHERE lot_id = :id"),
            {"id": ledger["a"]["id"]},
        )
