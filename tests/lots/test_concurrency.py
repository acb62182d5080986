"""Many requests at once through the API, on real engines: no kilo is taken twice, none is lost.

Each test builds the all-in-one platform on two fresh, migrated databases of its own (the
registry's and the ledger's) with real connection pools, so requests really overlap: on
PostgreSQL they wait on each other's row locks, on SQLite on the single writer's lock.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from deploy.allinone import AllInOne, create_allinone
from shared.db import Database
from shared.migrations import upgrade_to_head
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.factories import Origin, create_origin, deliver

Headers = dict[str, str]
LOTS = "/api/v1/lots"
REQUESTS = 50


@dataclass
class Fresh:
    """The platform on databases of its own, a client for it, and the ledger's database."""

    platform: AllInOne
    api: httpx.AsyncClient
    lots_db: Database


@asynccontextmanager
async def fresh_platform(backend: str, tmp_path: Path, signing_key_pem: str) -> AsyncIterator[Fresh]:
    """Fresh migrated databases (registry, ledger, certification) with real engines, and the platform."""
    names = ("cooperatives", "lots", "certification")
    if backend == "sqlite":
        urls = {name: f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}" for name in names}
    else:
        urls = {name: create_pg_database() for name in names}
    databases: dict[str, Database] = {}
    try:
        for name, url in urls.items():
            await upgrade_to_head(name, url)
            databases[name] = Database(url)
        platform = create_allinone(make_settings(urls["lots"], signing_key_pem), databases=databases)
        async with (
            platform.root.router.lifespan_context(platform.root),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=platform), base_url="http://test", timeout=120
            ) as api,
        ):
            yield Fresh(platform, api, databases["lots"])
    finally:
        for db in databases.values():
            await db.dispose()
        if backend == "postgresql":
            for url in urls.values():
                drop_pg_database(url)


@pytest.fixture
async def fresh(backend: str, tmp_path: Path, signing_key_pem: str) -> AsyncIterator[Fresh]:
    async with fresh_platform(backend, tmp_path, signing_key_pem) as env:
        yield env


async def ledger_mismatches(lots_db: Database) -> list[tuple[Any, ...]]:
    """Lots whose projection (lot_states) disagrees with the ledger (lots, lot_edges): none expected."""
    query = text(
        "SELECT s.lot_id, l.quantity_g, s.quantity_g, s.remaining_g, "
        "COALESCE((SELECT SUM(e.quantity_g) FROM lot_edges e WHERE e.parent_lot_id = s.lot_id), 0) "
        "FROM lot_states s JOIN lots l ON l.id = s.lot_id"
    )
    async with lots_db.read_sessions() as session:
        rows = (await session.execute(query)).all()
    assert rows, "the ledger is empty"
    return [
        tuple(row)
        for row in rows
        if not (row[1] == row[2] and row[3] == row[2] - int(row[4]) and 0 <= row[3] <= row[2])
    ]


async def get_lot(api: httpx.AsyncClient, headers: Headers, lot_id: str) -> dict[str, Any]:
    response = await api.get(f"{LOTS}/{lot_id}", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def kg(value: Any) -> Decimal:
    return Decimal(str(value))


async def count_lots(api: httpx.AsyncClient, headers: Headers, cooperative_id: str) -> int:
    response = await api.get(LOTS, params={"cooperative_id": cooperative_id, "limit": 500}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None
    return len(response.json()["items"])


async def test_concurrent_splits_and_merges_take_exactly_what_was_there(
    fresh: Fresh, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    api = fresh.api
    origin = await create_origin(api, admin_headers, headers_for)
    a = await deliver(api, origin, "100")
    b = await deliver(api, origin, "100")
    split = {"outputs": [{"quantity_kg": "7"}]}
    inputs = [{"lot_id": a["id"], "quantity_kg": "5"}, {"lot_id": b["id"], "quantity_kg": "5"}]
    kinds = ["split", "merge"] * (REQUESTS // 2)
    random.Random(3).shuffle(kinds)

    async def fire(index: int, kind: str) -> httpx.Response:
        if kind == "split":
            return await api.post(f"{LOTS}/{a['id']}/split", json=split, headers=origin.headers)
        # Half the merges name B first: two merges locking A and B in opposite orders must not deadlock.
        body = {"inputs": inputs if index % 2 else inputs[::-1]}
        return await api.post(f"{LOTS}/merge", json=body, headers=origin.headers)

    answers = await asyncio.gather(*(fire(index, kind) for index, kind in enumerate(kinds)))

    statuses = [r.status_code for r in answers]
    assert all(s < 500 for s in statuses), [r.text for r in answers if r.status_code >= 500]
    assert set(statuses) <= {201, 409}, [r.text for r in answers if r.status_code not in (201, 409)]
    refused = [(kind, r.json()) for kind, r in zip(kinds, answers, strict=True) if r.status_code == 409]
    assert {body["code"] for _, body in refused} <= {"insufficient_quantity", "lot_not_active"}, refused
    assert refused, "300 kg were asked of a 100 kg lot, yet nothing was refused"
    taken_a = sum(
        Decimal(7 if kind == "split" else 5)
        for kind, r in zip(kinds, answers, strict=True)
        if r.status_code == 201
    )
    taken_b = sum(
        Decimal(5) for kind, r in zip(kinds, answers, strict=True) if kind == "merge" and r.status_code == 201
    )
    lot_a = await get_lot(api, origin.headers, a["id"])
    lot_b = await get_lot(api, origin.headers, b["id"])
    for lot, taken in ((lot_a, taken_a), (lot_b, taken_b)):
        assert Decimal(0) <= kg(lot["remaining_kg"]) <= kg(lot["quantity_kg"]) == Decimal(100)
        assert kg(lot["quantity_kg"]) - kg(lot["remaining_kg"]) == taken, (lot, taken)
    # As many as could fit: each refusal asked for more than was left, and what is left is less than
    # what the refused kinds asked of A (B is never the limit: at most 125 kg are asked of it).
    remaining_a = kg(lot_a["remaining_kg"])
    assert Decimal(100) - Decimal(7) < taken_a <= Decimal(100), taken_a
    if any(kind == "split" for kind, _ in refused):
        assert remaining_a < 7, remaining_a
    if any(kind == "merge" for kind, _ in refused):
        assert remaining_a < 5, remaining_a
    for kind, body in refused:
        if body["code"] == "insufficient_quantity":
            assert Decimal(str(body["remaining_kg"])) < Decimal(7 if kind == "split" else 5), body
    assert lot_a["status"] == ("depleted" if remaining_a == 0 else "active")
    splits = sum(
        1 for kind, r in zip(kinds, answers, strict=True) if kind == "split" and r.status_code == 201
    )
    merges = sum(
        1 for kind, r in zip(kinds, answers, strict=True) if kind == "merge" and r.status_code == 201
    )
    assert await count_lots(api, origin.headers, origin.cooperative_id) == 2 + splits + merges
    assert await ledger_mismatches(fresh.lots_db) == []


def delivery_body(origin: Origin, quantity_kg: str) -> dict[str, Any]:
    return {
        "cooperative_id": origin.cooperative_id,
        "farmer_id": origin.farmer["id"],
        "plot_id": origin.plot["id"],
        "product": "cacao",
        "form": "baba",
        "quantity_kg": quantity_kg,
        "harvested_on": "2026-10-01",
    }


async def test_concurrent_deliveries_with_distinct_keys_all_succeed(
    fresh: Fresh, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    api = fresh.api
    origin = await create_origin(api, admin_headers, headers_for)

    async def post(i: int) -> httpx.Response:
        headers = {**origin.headers, "Idempotency-Key": f"delivery-{i}"}
        return await api.post(LOTS, json=delivery_body(origin, f"{10 + i}.125"), headers=headers)

    answers = await asyncio.gather(*(post(i) for i in range(REQUESTS)))

    assert [r.status_code for r in answers] == [201] * REQUESTS, [
        r.text for r in answers if r.status_code != 201
    ]
    assert not any(r.headers.get("idempotent-replayed") for r in answers)
    assert len({r.json()["id"] for r in answers}) == REQUESTS
    assert len({r.json()["code"] for r in answers}) == REQUESTS
    assert sorted(kg(r.json()["quantity_kg"]) for r in answers) == [
        Decimal(f"{10 + i}.125") for i in range(REQUESTS)
    ]
    assert await count_lots(api, origin.headers, origin.cooperative_id) == REQUESTS
    assert await ledger_mismatches(fresh.lots_db) == []


async def test_concurrent_replays_of_one_key_record_one_delivery(
    fresh: Fresh, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    api = fresh.api
    origin = await create_origin(api, admin_headers, headers_for)
    headers = {**origin.headers, "Idempotency-Key": "one-delivery"}
    body = delivery_body(origin, "42.5")

    answers = await asyncio.gather(*(api.post(LOTS, json=body, headers=headers) for _ in range(REQUESTS)))

    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {201, 409}, [r.text for r in answers if r.status_code not in (201, 409)]
    in_flight = [r.json()["code"] for r in answers if r.status_code == 409]
    assert set(in_flight) <= {"idempotency_key_in_flight"}, in_flight
    created = [r for r in answers if r.status_code == 201]
    originals = [r for r in created if r.headers.get("idempotent-replayed") != "true"]
    assert len(originals) == 1, [r.headers for r in created]
    assert {r.json()["id"] for r in created} == {originals[0].json()["id"]}
    assert all(r.content == originals[0].content for r in created)
    assert await count_lots(api, origin.headers, origin.cooperative_id) == 1
    # Afterwards the key is settled: a replay gets the stored answer, never a second lot.
    again = await api.post(LOTS, json=body, headers=headers)
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == originals[0].json()["id"]
    assert await count_lots(api, origin.headers, origin.cooperative_id) == 1
