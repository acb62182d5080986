"""``Idempotency-Key`` on every POST of the lot ledger: a retried request writes nothing twice.

The same key with the same body answers the first answer again (header ``idempotent-replayed:
true``) and creates no lot, event or fair; the same key with another body is a 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import Origin, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"


@dataclass(frozen=True)
class Case:
    """One POST: where, the body, another body, and how to count what it creates."""

    path: str
    body: dict[str, Any]
    other_body: dict[str, Any]
    count: Callable[[], Awaitable[int]]


async def count_lots(api: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await api.get(LOTS, headers=headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def count_events(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str) -> int:
    response = await api.get(f"{LOTS}/{lot_id}/events", headers=headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def count_fairs(api: httpx.AsyncClient) -> int:
    response = await api.get("/api/v1/fairs", params={"limit": 500})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def make_case(kind: str, api: httpx.AsyncClient, origin: Origin) -> Case:
    async def lots() -> int:
        return await count_lots(api, origin.headers)

    if kind == "delivery":
        body = {
            "cooperative_id": origin.cooperative_id,
            "farmer_id": origin.farmer["id"],
            "plot_id": origin.plot["id"],
            "product": "cacao",
            "form": "baba",
            "quantity_kg": "100",
            "harvested_on": "2026-10-01",
        }
        return Case(LOTS, body, {**body, "quantity_kg": "101"}, lots)
    a = await deliver(api, origin, "100")
    if kind == "merge":
        b = await deliver(api, origin, "100")
        body = {
            "inputs": [{"lot_id": a["id"], "quantity_kg": "10"}, {"lot_id": b["id"], "quantity_kg": "10"}]
        }
        other = {
            "inputs": [{"lot_id": a["id"], "quantity_kg": "11"}, {"lot_id": b["id"], "quantity_kg": "10"}]
        }
        return Case(f"{LOTS}/merge", body, other, lots)
    if kind == "split":
        body = {"outputs": [{"quantity_kg": "10"}, {"quantity_kg": "20"}]}
        return Case(f"{LOTS}/{a['id']}/split", body, {"outputs": [{"quantity_kg": "10"}]}, lots)
    if kind == "transform":
        body = {
            "process": "drying",
            "output_form": "dry",
            "output_quantity_kg": "20",
            "input_quantity_kg": "50",
        }
        other = {**body, "output_quantity_kg": "21"}
        return Case(f"{LOTS}/{a['id']}/transform", body, other, lots)
    if kind == "events":

        async def events() -> int:
            return await count_events(api, origin.headers, a["id"])

        body = {"type": "quality", "moisture_pct": "7.5"}
        return Case(f"{LOTS}/{a['id']}/events", body, {"type": "quality", "moisture_pct": "7.6"}, events)
    assert kind == "fairs"

    async def fairs() -> int:
        return await count_fairs(api)

    body = {"name": "Expoalimentaria", "city": "Lima", "starts_on": "2026-09-23", "ends_on": "2026-09-25"}
    return Case("/api/v1/fairs", body, {**body, "city": "Callao"}, fairs)


KINDS = ["delivery", "merge", "split", "transform", "events", "fairs"]


async def post(
    api: httpx.AsyncClient, origin: Origin, case: Case, body: dict[str, Any], key: str
) -> httpx.Response:
    return await api.post(case.path, json=body, headers={**origin.headers, "Idempotency-Key": key})


@pytest.mark.parametrize("kind", KINDS)
async def test_replay_returns_the_first_answer_and_creates_nothing_more(
    api: httpx.AsyncClient, origin: Origin, kind: str
) -> None:
    case = await make_case(kind, api, origin)
    before = await case.count()

    first = await post(api, origin, case, case.body, f"key-{kind}")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    after_first = await case.count()
    assert after_first > before

    replay = await post(api, origin, case, case.body, f"key-{kind}")

    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert await case.count() == after_first


@pytest.mark.parametrize("kind", KINDS)
async def test_same_key_with_another_body_is_refused(
    api: httpx.AsyncClient, origin: Origin, kind: str
) -> None:
    case = await make_case(kind, api, origin)
    first = await post(api, origin, case, case.body, f"key-{kind}")
    assert first.status_code == 201, first.text
    after_first = await case.count()

    response = await post(api, origin, case, case.other_body, f"key-{kind}")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "idempotency_key_reused"
    assert await case.count() == after_first


@pytest.mark.parametrize("kind", KINDS)
async def test_another_key_with_the_same_body_is_a_new_request(
    api: httpx.AsyncClient, origin: Origin, kind: str
) -> None:
    case = await make_case(kind, api, origin)
    first = await post(api, origin, case, case.body, "key-1")
    assert first.status_code == 201, first.text
    after_first = await case.count()

    second = await post(api, origin, case, case.body, "key-2")

    assert second.status_code == 201, second.text
    assert "idempotent-replayed" not in second.headers
    assert await case.count() > after_first


async def post_split(
    api: httpx.AsyncClient, origin: Origin, lot_id: str, kg: str, key: str
) -> httpx.Response:
    body = {"outputs": [{"quantity_kg": kg}]}
    headers = {**origin.headers, "Idempotency-Key": key}
    return await api.post(f"{LOTS}/{lot_id}/split", json=body, headers=headers)


async def test_replayed_split_draws_only_once(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "100")

    answers = [await post_split(api, origin, lot["id"], "30", "split-once") for _ in range(3)]

    assert [r.status_code for r in answers] == [201, 201, 201]
    assert len({r.json()["lots"][0]["id"] for r in answers}) == 1
    response = await api.get(f"{LOTS}/{lot['id']}", headers=origin.headers)
    assert response.json()["remaining_kg"] == 70


async def test_a_refused_request_releases_its_key(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "10")

    refused = await post_split(api, origin, lot["id"], "20", "retry-me")
    assert refused.status_code == 409, refused.text

    retried = await post_split(api, origin, lot["id"], "5", "retry-me")
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


async def test_keys_are_per_caller(
    api: httpx.AsyncClient, admin_headers: dict[str, str], origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")
    body = {"outputs": [{"quantity_kg": "10"}]}
    first = await post_split(api, origin, lot["id"], "10", "shared-key")
    assert first.status_code == 201, first.text

    other = await api.post(
        f"{LOTS}/{lot['id']}/split", json=body, headers={**admin_headers, "Idempotency-Key": "shared-key"}
    )

    assert other.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers
    assert other.json() != first.json()
    response = await api.get(f"{LOTS}/{lot['id']}", headers=origin.headers)
    assert response.json()["remaining_kg"] == 80
