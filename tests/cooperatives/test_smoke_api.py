from __future__ import annotations

import httpx

from tests.factories import create_cooperative, create_farmer, create_plot


async def test_registering_a_cooperative_farmer_and_plot(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    assert coop["region"] == "San Martín"
    farmer = await create_farmer(client, admin_headers, coop["id"])
    plot = await create_plot(client, admin_headers, farmer["id"])
    assert 1.0 < plot["area_ha"] < 1.3
    listed = await client.get(f"/api/v1/cooperatives/{coop['id']}/farmers", headers=admin_headers)
    assert [f["id"] for f in listed.json()["items"]] == [farmer["id"]]
