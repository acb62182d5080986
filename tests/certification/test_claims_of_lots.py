"""The claims of many lots in one request: each as the single lot's route gives it, for a fixed
number of calls to the peers (pages built ahead ask this way)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from services.certification.schemas import MAX_CLAIMS_LOTS
from tests.certification.calls import Body, certify, claims, deliver_from, merge, new_plot, verify
from tests.factories import Origin

CLAIMS = "/api/v1/claims/lots"


def without_time(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k != "computed_at"}


async def test_each_lot_gets_what_its_own_route_gives_for_one_call_to_each_peer(
    api: httpx.AsyncClient, origin: Origin, body: Body, peer_requests: Counter[str]
) -> None:
    uncovered = await new_plot(api, origin)
    await certify(api, body, origin)
    await verify(api, body, origin.plot["id"], on="2026-09-01")
    covered = await deliver_from(api, origin, origin.plot, "900")
    other = await deliver_from(api, origin, uncovered, "100")
    merged = await merge(api, origin.headers, [covered, other])
    lots = [merged, covered, other]

    peer_requests.clear()
    ids = [lot["id"] for lot in lots] + ["lot_unknown", covered["id"]]
    response = await api.post(CLAIMS, json={"lot_ids": ids})
    assert response.status_code == 200, response.text
    assert dict(peer_requests) == {"lots POST": 1, "cooperatives POST": 1}

    items = response.json()["items"]
    assert [item["lot_id"] for item in items] == [lot["id"] for lot in lots]  # unknown left out, once each
    for item, lot in zip(items, lots, strict=True):
        assert without_time(item) == without_time(await claims(api, lot["id"]))
    by_lot = {item["lot_id"]: item for item in items}
    assert by_lot[covered["id"]]["organic"]["EU_2018_848"]["status"] == "verified"
    assert by_lot[covered["id"]]["coca_free"]["status"] == "verified"
    assert by_lot[merged["id"]]["organic"]["EU_2018_848"]["status"] == "not_verified"


async def test_an_empty_or_too_long_list_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    for ids in ([], [f"lot_{n}" for n in range(MAX_CLAIMS_LOTS + 1)]):
        response = await api.post(CLAIMS, json={"lot_ids": ids})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert any(error["field"].startswith("lot_ids") for error in response.json()["errors"])
