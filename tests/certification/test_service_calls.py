"""Claims ask their peers a fixed number of times, however many plots a lot comes from (issue #4).

Every request the certification service sends to the ledger and to the registry goes through its
clients' transports; an event hook counts them. A lot from 1,000 plots must cost exactly what a lot
from one plot costs: one lineage from the ledger, one plot lookup from the registry.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from tests.certification.calls import (
    SIDE,
    Body,
    certify,
    claims,
    deliver_from,
    merge,
    next_corner,
)
from tests.factories import Origin

PLOTS = 1000
MERGE_MAX = 500
FARMER_HEADER = (
    "farmer_name,dni,gender,joined_on,public_name_consent,plot_name,crop,geometry,area_ha,altitude_m,"
    "organic_since"
)


def square_wkt() -> str:
    lon, lat = next_corner()
    ring = [(lon, lat), (lon + SIDE, lat), (lon + SIDE, lat + SIDE), (lon, lat + SIDE), (lon, lat)]
    return '"POLYGON ((' + ", ".join(f"{x:.6f} {y:.6f}" for x, y in ring) + '))"'


async def many_plots(api: httpx.AsyncClient, origin: Origin, count: int) -> tuple[str, list[dict[str, Any]]]:
    """One farmer with ``count`` plots, imported in one CSV upload."""
    rows = [
        f"Rosa Huamán,,female,2015-03-01,true,Parcela {i},cacao,{square_wkt()},,450,2018-01-01"
        for i in range(count)
    ]
    csv = ("\r\n".join([FARMER_HEADER, *rows]) + "\r\n").encode()
    response = await api.post(
        f"/api/v1/cooperatives/{origin.cooperative_id}/farmers/import",
        files={"file": ("socios.csv", csv, "text/csv")},
        headers=origin.headers,
    )
    assert response.status_code in (200, 201), response.text
    farmers = await api.get(
        f"/api/v1/cooperatives/{origin.cooperative_id}/farmers",
        params={"q": "Rosa Huamán"},
        headers=origin.headers,
    )
    farmer_id = farmers.json()["items"][0]["id"]
    plots: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (
            await api.get(f"/api/v1/farmers/{farmer_id}/plots", params=params, headers=origin.headers)
        ).json()
        plots += page["items"]
        cursor = page["next"]
        if not cursor:
            return farmer_id, plots


async def lot_of(api: httpx.AsyncClient, origin: Origin, plots: list[dict[str, Any]]) -> dict[str, Any]:
    """One lot made from a delivery of each plot (merged 500 at a time, as the ledger allows)."""
    lots = [await deliver_from(api, origin, plot, "1") for plot in plots]
    while len(lots) > 1:
        lots = [
            await merge(api, origin.headers, lots[i : i + MERGE_MAX])
            if len(lots[i : i + MERGE_MAX]) > 1
            else lots[i]
            for i in range(0, len(lots), MERGE_MAX)
        ]
    return lots[0]


async def test_claims_of_a_lot_from_1000_plots_cost_as_many_calls_as_from_one(
    api: httpx.AsyncClient, origin: Origin, body: Body, peer_requests: Counter[str]
) -> None:
    farmer_id, plots = await many_plots(api, origin, PLOTS)
    assert len(plots) == PLOTS
    await certify(api, body, origin, scope={"farmer_ids": [farmer_id]})
    big = await lot_of(api, origin, plots)
    small = await deliver_from(api, origin, plots[0], "1")

    peer_requests.clear()
    small_claims = await claims(api, small["id"])
    for_one = dict(peer_requests)
    peer_requests.clear()
    big_claims = await claims(api, big["id"])
    for_many = dict(peer_requests)

    assert for_many == for_one == {"lots GET": 1, "cooperatives POST": 1}
    assert big_claims["organic"]["EU_2018_848"]["status"] == "verified", big_claims["organic"]["EU_2018_848"]
    assert f"({PLOTS} plots)" in big_claims["organic"]["EU_2018_848"]["reason"]
    assert small_claims["organic"]["EU_2018_848"]["status"] == "verified"
