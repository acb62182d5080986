"""A write's answer is built from the values it wrote, not read back: it must equal what a read returns.

Deliveries are checked in test_deliveries.py; these are the other writes that create lots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.factories import Origin, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
EXPORTER_ORG = "Exportadora Andina SAC"


async def created(api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await api.post(f"{LOTS}{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def read_back(api: httpx.AsyncClient, lot_id: str, headers: dict[str, str]) -> Any:
    response = await api.get(f"{LOTS}/{lot_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_merged_lot_reads_back_as_answered(api: httpx.AsyncClient, origin: Origin) -> None:
    a = await deliver(api, origin, "100", harvested_on="2026-09-28")
    b = await deliver(api, origin, "50.5", harvested_on="2026-09-30")
    body = {"inputs": [{"lot_id": a["id"], "quantity_kg": "60"}, {"lot_id": b["id"], "quantity_kg": "40.25"}]}

    merged = await created(api, "/merge", body, origin.headers)

    assert merged["quantity_kg"] == merged["remaining_kg"] == 100.25
    assert merged["farmer_id"] is None and merged["plot_id"] is None
    assert await read_back(api, merged["id"], origin.headers) == merged


async def test_split_lots_read_back_as_answered(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "90", harvested_on="2026-09-29")

    answer = await created(
        api,
        f"/{lot['id']}/split",
        {"outputs": [{"quantity_kg": "30"}, {"quantity_kg": "45.5"}]},
        origin.headers,
    )

    assert [bag["quantity_kg"] for bag in answer["lots"]] == [30, 45.5]
    assert all(bag["harvested_on"] == "2026-09-29" for bag in answer["lots"])
    assert [await read_back(api, bag["id"], origin.headers) for bag in answer["lots"]] == answer["lots"]


async def test_a_transformed_lot_reads_back_as_answered(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "100")
    body = {"process": "fermentation", "output_form": "fermented", "output_quantity_kg": "85"}

    fermented = await created(api, f"/{lot['id']}/transform", body, origin.headers)

    assert (fermented["form"], fermented["origin"], fermented["quantity_kg"]) == (
        "fermented",
        "transformation",
        85,
    )
    assert await read_back(api, fermented["id"], origin.headers) == fermented


async def test_a_lot_split_by_its_holder_reads_back_with_the_holder(
    api: httpx.AsyncClient, headers_for: HeadersFor, origin: Origin
) -> None:
    lot = await deliver(api, origin, "60")
    handover = {"type": "handover", "to_organization": EXPORTER_ORG}
    assert (
        await api.post(f"{LOTS}/{lot['id']}/events", json=handover, headers=origin.headers)
    ).status_code == 201
    exporter = headers_for("exporter", organization=EXPORTER_ORG)

    answer = await created(api, f"/{lot['id']}/split", {"outputs": [{"quantity_kg": "20"}]}, exporter)

    bag = answer["lots"][0]
    assert bag["holder_organization"] == EXPORTER_ORG
    assert await read_back(api, bag["id"], exporter) == bag
