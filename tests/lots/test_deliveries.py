"""Recording a farmer's delivery (acopio): the new lot, and every rule that refuses one (API.md: Lot ledger).

A refused delivery must write nothing: the manager's list of lots stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from stdnum import ean

from tests.factories import Origin, create_farmer, create_origin, create_plot, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
BASE_URL = "http://127.0.0.1:8000"  # Settings.public_base_url's default, which the test settings keep
CODE = re.compile(r"^[3467ACEFGHJKMNPRTWXY]{9}$")
GS1_PREFIX = "7751234"
GTIN13_BODY = GS1_PREFIX + "00001"
GTIN13 = GTIN13_BODY + ean.calc_check_digit(GTIN13_BODY)


def delivery_body(origin: Origin, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cooperative_id": origin.cooperative_id,
        "farmer_id": origin.farmer["id"],
        "plot_id": origin.plot["id"],
        "product": "cacao",
        "form": "baba",
        "quantity_kg": "100",
        "harvested_on": "2026-10-01",
    }
    body.update(overrides)
    return body


def field_errors(response: httpx.Response) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in response.json().get("errors", [])}


async def lot_ids(api: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await api.get(LOTS, headers=headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- the new lot -------------------------------------------------------------------------------


async def test_delivery_answers_the_new_lot_with_its_fields(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "123.456", harvested_on="2026-09-30")

    assert CODE.match(lot["code"]), lot["code"]
    assert lot["id"].startswith("lot_")
    assert lot["origin"] == "delivery"
    assert (lot["product"], lot["form"]) == ("cacao", "baba")
    assert lot["quantity_kg"] == lot["remaining_kg"]
    assert float(lot["quantity_kg"]) == 123.456
    assert lot["status"] == "active"
    assert lot["cooperative_id"] == origin.cooperative_id
    assert lot["farmer_id"] == origin.farmer["id"]
    assert lot["plot_id"] == origin.plot["id"]
    assert lot["holder_organization"] is None
    assert lot["harvested_on"] == "2026-09-30"
    assert lot["created_event_id"].startswith("evt_")


async def test_delivery_without_gs1_data_links_to_the_short_code_url(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin)

    assert lot["gtin"] is None
    assert lot["digital_link"] == f"{BASE_URL}/l/{lot['code']}"


async def test_delivery_of_a_cooperative_with_gs1_data_gets_a_digital_link_with_gtin14(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    origin = await create_origin(
        api, admin_headers, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
    )

    lot = await deliver(api, origin)

    assert lot["gtin"] == "0" + GTIN13
    assert lot["digital_link"] == f"{BASE_URL}/01/0{GTIN13}/10/{lot['code']}"


async def test_product_without_a_gtin_gets_the_short_code_url_even_with_a_gs1_prefix(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    cacao = await create_origin(
        api, admin_headers, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
    )
    coffee = await create_origin(
        api, admin_headers, headers_for, crop="coffee", cooperative=cacao.cooperative
    )

    lot = await deliver(api, coffee)

    assert lot["gtin"] is None
    assert lot["digital_link"] == f"{BASE_URL}/l/{lot['code']}"


async def test_each_delivery_gets_its_own_code(api: httpx.AsyncClient, origin: Origin) -> None:
    codes = {(await deliver(api, origin, "10"))["code"] for _ in range(5)}

    assert len(codes) == 5


async def test_delivered_lot_reads_back_as_answered(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "42.5")

    response = await api.get(f"{LOTS}/{lot['id']}", headers=origin.headers)

    assert response.status_code == 200, response.text
    assert response.json() == lot


# --- refusals: 422 naming the field and the rule -----------------------------------------------


async def refused(
    api: httpx.AsyncClient, origin: Origin, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    """Post ``body``, expect 422, and check that no lot appeared for the origin's cooperative."""
    before = await lot_ids(api, origin.headers)
    response = await api.post(LOTS, json=body, headers=headers or origin.headers)
    assert response.status_code == 422, response.text
    assert await lot_ids(api, origin.headers) == before
    return response


async def test_unknown_plot_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    response = await refused(api, origin, delivery_body(origin, plot_id="plot_doesnotexist"))

    assert ("plot_id", "unknown_plot") in field_errors(response)


async def test_unknown_farmer_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    response = await refused(api, origin, delivery_body(origin, farmer_id="frm_doesnotexist"))

    assert ("farmer_id", "unknown_farmer") in field_errors(response)


async def test_plot_of_another_farmer_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    neighbour = await create_farmer(api, origin.headers, origin.cooperative_id)
    their_plot = await create_plot(api, origin.headers, neighbour["id"], crop="cacao")

    response = await refused(api, origin, delivery_body(origin, plot_id=their_plot["id"]))

    assert response.json()["code"] == "plot_not_of_farmer"
    assert ("plot_id", "plot_not_of_farmer") in field_errors(response)


async def test_farmer_of_another_cooperative_is_refused_for_an_admin(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)
    body = delivery_body(origin, farmer_id=other.farmer["id"], plot_id=other.plot["id"])

    response = await refused(api, origin, body, headers=admin_headers)

    assert response.json()["code"] == "farmer_not_of_cooperative"
    assert ("farmer_id", "farmer_not_of_cooperative") in field_errors(response)


async def test_farmer_of_another_cooperative_is_refused_for_a_manager(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)

    response = await refused(api, origin, delivery_body(origin, farmer_id=other.farmer["id"]))

    # The registry hides another cooperative's farmer from this manager: unknown, or not a member.
    codes = {code for field, code in field_errors(response) if field == "farmer_id"}
    assert codes & {"unknown_farmer", "farmer_not_of_cooperative"}, response.text


async def test_coffee_delivery_from_a_cacao_plot_is_a_crop_mismatch(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    body = delivery_body(origin, product="coffee", form="cherry")

    response = await refused(api, origin, body)

    assert response.json()["code"] == "crop_mismatch"
    assert ("product", "crop_mismatch") in field_errors(response)


async def test_form_of_another_product_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    response = await refused(api, origin, delivery_body(origin, form="cherry"))

    assert response.json()["code"] == "form_not_of_product"
    assert ("form", "form_not_of_product") in field_errors(response)


async def test_quantity_with_four_decimals_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    response = await refused(api, origin, delivery_body(origin, quantity_kg="10.1234"))

    assert ("quantity_kg", "decimal_max_places") in field_errors(response)


@pytest.mark.parametrize("quantity", ["0", "-5", "0.000"])
async def test_quantity_zero_or_negative_is_refused(
    api: httpx.AsyncClient, origin: Origin, quantity: str
) -> None:
    response = await refused(api, origin, delivery_body(origin, quantity_kg=quantity))

    assert ("quantity_kg", "greater_than") in field_errors(response)


async def test_harvest_date_in_the_future_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    future = (date.today() + timedelta(days=3)).isoformat()

    response = await refused(api, origin, delivery_body(origin, harvested_on=future))

    assert ("harvested_on", "date_in_future") in field_errors(response)


async def test_received_before_the_harvest_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    body = delivery_body(origin, harvested_on="2026-10-10", received_at="2026-10-05T08:00:00-05:00")

    response = await refused(api, origin, body)

    assert ("received_at", "received_before_harvest") in field_errors(response)


async def test_received_in_the_future_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    tomorrow = (date.today() + timedelta(days=2)).isoformat() + "T08:00:00+00:00"

    response = await refused(api, origin, delivery_body(origin, received_at=tomorrow))

    assert ("received_at", "time_in_future") in field_errors(response)


# --- who may record a delivery -----------------------------------------------------------------


async def test_manager_of_another_cooperative_gets_404(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)
    before = await lot_ids(api, origin.headers)

    response = await api.post(LOTS, json=delivery_body(origin), headers=other.headers)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "cooperative_not_found"
    assert await lot_ids(api, origin.headers) == before


async def test_exporter_gets_403(api: httpx.AsyncClient, headers_for: HeadersFor, origin: Origin) -> None:
    exporter = headers_for("exporter", organization="Exportadora Andina SAC")

    response = await api.post(LOTS, json=delivery_body(origin), headers=exporter)

    assert response.status_code == 403, response.text
    assert await lot_ids(api, origin.headers) == []


async def test_admin_may_record_a_delivery_for_any_cooperative(
    api: httpx.AsyncClient, admin_headers: dict[str, str], origin: Origin
) -> None:
    response = await api.post(LOTS, json=delivery_body(origin), headers=admin_headers)

    assert response.status_code == 201, response.text
    assert await lot_ids(api, origin.headers) == [response.json()["id"]]
