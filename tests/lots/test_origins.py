"""Many lots' deliveries in one request, as each lot's lineage gives them (certification's claims of
a batch of pages built ahead)."""

from __future__ import annotations

from typing import Any

import httpx

from services.lots.schemas.origin import MAX_ORIGIN_LOTS
from tests.factories import Origin, create_origin, deliver
from tests.lots.calls import LOTS, HeadersFor

ORIGINS = f"{LOTS}/origins"


async def test_each_lot_gets_its_lineages_deliveries_and_what_the_caller_may_not_read_is_left_out(
    api: httpx.AsyncClient,
    origin: Origin,
    lot: dict[str, Any],
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
) -> None:
    other = await deliver(api, origin, "40")
    inputs = [{"lot_id": lot["id"], "quantity_kg": "10"}, {"lot_id": other["id"], "quantity_kg": "40"}]
    response = await api.post(f"{LOTS}/merge", json={"inputs": inputs}, headers=origin.headers)
    assert response.status_code == 201, response.text
    merged = response.json()
    ids = [merged["id"], lot["id"], "lot_unknown", merged["id"]]

    response = await api.post(ORIGINS, json={"lot_ids": ids}, headers=origin.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["lot_id"] for item in items] == [merged["id"], lot["id"]]
    for item in items:
        lineage = await api.get(f"{LOTS}/{item['lot_id']}/lineage", headers=origin.headers)
        assert item["deliveries"] == lineage.json()["deliveries"]
        assert item["product"] == lot["product"]
    assert {d["lot_id"] for d in items[0]["deliveries"]} == {lot["id"], other["id"]}

    stranger = await create_origin(api, admin_headers, headers_for)  # another cooperative's manager
    response = await api.post(ORIGINS, json={"lot_ids": ids}, headers=stranger.headers)
    assert response.status_code == 200 and response.json()["items"] == []


async def test_it_needs_a_login_and_at_most_500_lots(api: httpx.AsyncClient, origin: Origin) -> None:
    assert (await api.post(ORIGINS, json={"lot_ids": ["lot_x"]})).status_code == 401
    for ids in ([], [f"lot_{n}" for n in range(MAX_ORIGIN_LOTS + 1)]):
        response = await api.post(ORIGINS, json={"lot_ids": ids}, headers=origin.headers)
        assert response.status_code == 422, response.text
        assert any(error["field"].startswith("lot_ids") for error in response.json()["errors"])
