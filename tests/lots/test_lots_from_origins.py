"""GET /api/v1/lots?from_plots=&from_farmers=&harvested_from=&harvested_to=: lots made from deliveries."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import Origin, create_plot, deliver
from tests.lots.calls import LOTS


async def lot_ids(api: httpx.AsyncClient, headers: dict[str, str], **params: str) -> set[str]:
    response = await api.get(LOTS, params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {lot["id"] for lot in response.json()["items"]}


async def test_lots_descending_from_a_plot_are_found_through_merges_and_splits(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    other_plot = await create_plot(api, origin.headers, origin.farmer["id"])
    other = Origin(origin.cooperative, origin.farmer, other_plot, origin.headers)
    mine = await deliver(api, origin, "100")
    theirs = await deliver(api, other, "100")
    body: dict[str, Any] = {
        "inputs": [{"lot_id": mine["id"], "quantity_kg": "50"}, {"lot_id": theirs["id"], "quantity_kg": "50"}]
    }
    merged = (await api.post(f"{LOTS}/merge", json=body, headers=origin.headers)).json()
    split = await api.post(
        f"{LOTS}/{merged['id']}/split", json={"outputs": [{"quantity_kg": "40"}]}, headers=origin.headers
    )
    bag = split.json()["lots"][0]

    found = await lot_ids(api, admin_headers, from_plots=origin.plot["id"])

    assert found == {mine["id"], merged["id"], bag["id"]}
    assert await lot_ids(api, admin_headers, from_farmers=origin.farmer["id"]) == {
        mine["id"],
        theirs["id"],
        merged["id"],
        bag["id"],
    }


async def test_only_deliveries_harvested_inside_the_dates_count(
    api: httpx.AsyncClient, origin: Origin, admin_headers: dict[str, str]
) -> None:
    early = await deliver(api, origin, "10", harvested_on="2026-01-15")
    late = await deliver(api, origin, "10", harvested_on="2026-10-01")

    found = await lot_ids(
        api,
        admin_headers,
        from_plots=origin.plot["id"],
        harvested_from="2026-02-01",
        harvested_to="2026-12-31",
    )

    assert found == {late["id"]}
    assert early["id"] not in found
