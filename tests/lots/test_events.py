"""Events on a lot (quality, storage, shipment, handover, fair, sale) and its timeline.

Corrections of events are in test_events_corrections.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.factories import Origin, deliver
from tests.lots.calls import (
    LOTS,
    HeadersFor,
    correct,
    error_codes,
    event,
    field_errors,
    get_lot,
    post_event,
    split,
    timeline,
)

EXPORTER_ORG = "Exportadora Andina SAC"
CONTAINER = "CSQU3054383"  # ISO 6346's own example, check digit 3


# --- observations ------------------------------------------------------------------------------


async def test_quality_event_records_its_measures(api: httpx.AsyncClient, origin: Origin, lot: Any) -> None:
    cut = {"well_fermented_pct": "70", "violet_pct": "20", "slaty_pct": "10"}
    recorded = await event(api, origin.headers, lot["id"], type="quality", moisture_pct="7.2", cut_test=cut)

    assert (recorded["type"], recorded["lot_id"]) == ("quality", lot["id"])
    assert Decimal(recorded["data"]["moisture_pct"]) == Decimal("7.2")
    assert Decimal(recorded["data"]["cut_test"]["well_fermented_pct"]) == 70


async def test_quality_event_without_any_measure_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await post_event(api, origin.headers, lot["id"], type="quality", notes="looks fine")

    assert response.status_code == 422, response.text
    assert "no_measurement" in error_codes(response)


async def test_cut_test_classes_over_100_percent_are_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    cut = {"well_fermented_pct": "80", "violet_pct": "15", "slaty_pct": "5.01"}

    response = await post_event(api, origin.headers, lot["id"], type="quality", cut_test=cut)

    assert response.status_code == 422, response.text
    assert "shares_over_100" in error_codes(response)
    assert [e["type"] for e in await timeline(api, origin.headers, lot["id"])] == ["delivery"]


async def test_storage_event_is_recorded(api: httpx.AsyncClient, origin: Origin, lot: Any) -> None:
    recorded = await event(api, origin.headers, lot["id"], type="storage", warehouse="Almacén Tarapoto")

    assert recorded["data"]["warehouse"] == "Almacén Tarapoto"
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "active"


@pytest.mark.parametrize("country", ["XX", "DEU", "de1"])
async def test_shipment_to_an_unknown_country_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any, country: str
) -> None:
    response = await post_event(api, origin.headers, lot["id"], type="shipment", destination_country=country)

    assert response.status_code == 422, response.text
    assert "unknown_country" in error_codes(response)
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "active"


async def test_shipment_with_a_wrong_container_check_digit_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await post_event(
        api, origin.headers, lot["id"], type="shipment", destination_country="DE", container="CSQU3054384"
    )

    assert response.status_code == 422, response.text
    assert "invalid_container_number" in error_codes(response)


async def test_shipment_marks_the_lot_shipped_and_cannot_be_repeated(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    shipment = await event(
        api, origin.headers, lot["id"], type="shipment", destination_country="de", container=CONTAINER
    )
    assert (shipment["data"]["destination_country"], shipment["data"]["container"]) == ("DE", CONTAINER)
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "shipped"

    again = await post_event(api, origin.headers, lot["id"], type="shipment", destination_country="US")

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "lot_not_active"


async def test_handover_passes_the_lot_to_the_exporter(
    api: httpx.AsyncClient, headers_for: HeadersFor, origin: Origin, lot: Any
) -> None:
    exporter = headers_for("exporter", organization=EXPORTER_ORG)
    assert (await api.get(f"{LOTS}/{lot['id']}", headers=exporter)).status_code == 404

    await event(api, origin.headers, lot["id"], type="handover", to_organization=EXPORTER_ORG)

    assert (await get_lot(api, exporter, lot["id"]))["holder_organization"] == EXPORTER_ORG
    assert (await split(api, exporter, lot["id"], "10")).status_code == 201
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 90
    refused = await split(api, origin.headers, lot["id"], "10")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_holder"


async def test_fair_event_for_an_unknown_fair_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await post_event(api, origin.headers, lot["id"], type="fair", fair_id="fair_doesnotexist")

    assert response.status_code == 422, response.text
    assert ("fair_id", "unknown_fair") in field_errors(response)


async def test_fair_catalog_lists_the_lot_with_its_latest_quality_without_a_token(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    fair_body = {
        "name": "Salón del Cacao",
        "city": "Lima",
        "starts_on": "2026-07-01",
        "ends_on": "2026-07-05",
    }
    created = await api.post("/api/v1/fairs", json=fair_body, headers=origin.headers)
    assert created.status_code == 201, created.text
    fair = created.json()
    await event(api, origin.headers, lot["id"], type="quality", grade="B", event_time="2026-11-01T10:00:00Z")
    await event(api, origin.headers, lot["id"], type="quality", grade="A", moisture_pct="7")
    await event(api, origin.headers, lot["id"], type="fair", fair_id=fair["id"], booth="C-12")

    response = await api.get(f"/api/v1/fairs/{fair['id']}/catalog")

    assert response.status_code == 200, response.text
    catalog = response.json()
    assert catalog["fair"]["id"] == fair["id"]
    [entry] = catalog["items"]
    assert (entry["lot_id"], entry["code"], entry["booth"]) == (lot["id"], lot["code"], "C-12")
    assert entry["quality"]["grade"] == "A"
    assert "farmer_id" not in entry


async def test_sale_marks_the_lot_sold(api: httpx.AsyncClient, origin: Origin, lot: Any) -> None:
    await event(api, origin.headers, lot["id"], type="sale", buyer="Chocolatier GmbH", contract="K-1")

    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "sold"


# --- timeline ----------------------------------------------------------------------------------


async def test_timeline_is_ordered_by_event_time_and_pages_with_a_cursor(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100", received_at="2026-11-01T08:00:00Z")
    ids = {lot["created_event_id"]: "delivery"}
    for kind, when, extra in [
        ("quality", "2026-11-04T08:00:00Z", {"grade": "A"}),
        ("storage", "2026-11-02T08:00:00Z", {"warehouse": "Almacén 1"}),
        ("storage", "2026-11-03T08:00:00Z", {"warehouse": "Almacén 2"}),
        ("sale", "2026-11-05T08:00:00Z", {"buyer": "Chocolatier GmbH"}),
    ]:
        ids[(await event(api, origin.headers, lot["id"], type=kind, event_time=when, **extra))["id"]] = when
    full = await timeline(api, origin.headers, lot["id"])
    assert [e["type"] for e in full] == ["delivery", "storage", "storage", "quality", "sale"]
    assert [e["data"].get("warehouse") for e in full[1:3]] == ["Almacén 1", "Almacén 2"]

    paged: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    sizes = []
    while True:
        response = await api.get(f"{LOTS}/{lot['id']}/events", headers=origin.headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        paged += page["items"]
        sizes.append(len(page["items"]))
        if page["next"] is None:
            break
        params["cursor"] = page["next"]

    assert sizes == [2, 2, 1]
    assert [e["id"] for e in paged] == [e["id"] for e in full]
    assert set(ids) == {e["id"] for e in full}


async def test_timeline_pages_one_by_one_through_events_of_equal_time(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    wrong = await event(api, origin.headers, lot["id"], type="storage", warehouse="Almacén 1")
    fixed = await correct(api, origin.headers, lot["id"], wrong["id"], replacement={"warehouse": "Almacén 2"})
    assert fixed.status_code == 201, fixed.text  # the replacement takes the wrong event's time
    full = await timeline(api, origin.headers, lot["id"])
    assert len(full) == 4

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(10):
        page = (await api.get(f"{LOTS}/{lot['id']}/events", headers=origin.headers, params=params)).json()
        seen += [e["id"] for e in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]

    assert seen == [e["id"] for e in full]
