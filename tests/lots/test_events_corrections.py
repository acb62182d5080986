"""Corrections (EPCIS errorDeclaration): a wrong event is never changed; a later event says it was wrong.

A weight correction moves the lot's weight by the difference; did_not_occur voids an event; a
replacement records the right observation. The timeline keeps the wrong event, the correction and
the replacement.
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
    event,
    field_errors,
    get_lot,
    split,
    timeline,
)

# --- corrections -------------------------------------------------------------------------------


async def test_delivery_weight_correction_changes_quantity_and_remaining_by_the_difference(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    assert (await split(api, origin.headers, lot["id"], "30")).status_code == 201

    response = await correct(api, origin.headers, lot["id"], lot["created_event_id"], quantity_kg="90.5")

    assert response.status_code == 201, response.text
    fixed = await get_lot(api, origin.headers, lot["id"])
    assert (fixed["quantity_kg"], fixed["remaining_kg"]) == (Decimal("90.5"), Decimal("60.5"))


async def test_delivery_correction_below_what_already_left_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    assert (await split(api, origin.headers, lot["id"], "60")).status_code == 201

    response = await correct(api, origin.headers, lot["id"], lot["created_event_id"], quantity_kg="59.999")

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "insufficient_quantity"
    unchanged = await get_lot(api, origin.headers, lot["id"])
    assert (unchanged["quantity_kg"], unchanged["remaining_kg"]) == (100, 40)


async def test_delivery_that_did_not_occur_leaves_nothing_in_the_lot(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await correct(api, origin.headers, lot["id"], lot["created_event_id"], reason="did_not_occur")

    assert response.status_code == 201, response.text
    voided = await get_lot(api, origin.headers, lot["id"])
    assert (voided["quantity_kg"], voided["remaining_kg"]) == (0, 0)
    assert (await split(api, origin.headers, lot["id"], "1")).status_code == 409


async def test_transformation_weight_correction_outside_the_yield_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await api.post(
        f"{LOTS}/{lot['id']}/transform",
        json={"process": "drying", "output_form": "dry", "output_quantity_kg": "40"},
        headers=origin.headers,
    )
    assert response.status_code == 201, response.text
    dry = response.json()

    wrong = await correct(api, origin.headers, dry["id"], dry["created_event_id"], quantity_kg="400")
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["code"] == "yield_out_of_range"
    assert (await get_lot(api, origin.headers, dry["id"]))["quantity_kg"] == 40

    right = await correct(api, origin.headers, dry["id"], dry["created_event_id"], quantity_kg="42")
    assert right.status_code == 201, right.text
    assert (await get_lot(api, origin.headers, dry["id"]))["quantity_kg"] == 42


async def test_quality_correction_with_a_replacement_keeps_all_three_events(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    wrong = await event(api, origin.headers, lot["id"], type="quality", moisture_pct="70")

    response = await correct(
        api, origin.headers, lot["id"], wrong["id"], replacement={"moisture_pct": "7", "grade": "A"}
    )

    assert response.status_code == 201, response.text
    correction = response.json()
    assert (correction["type"], correction["corrects_event_id"]) == ("correction", wrong["id"])
    events = {e["id"]: e for e in await timeline(api, origin.headers, lot["id"])}
    assert events[wrong["id"]]["corrected_by_event_id"] == correction["id"]
    assert events[correction["id"]]["corrects_event_id"] == wrong["id"]
    [replacement] = [e for e in events.values() if e["data"].get("replaces_event_id") == wrong["id"]]
    assert replacement["type"] == "quality"
    assert replacement["corrected_by_event_id"] is None
    assert Decimal(replacement["data"]["moisture_pct"]) == 7
    assert correction["data"]["corrective_event_ids"] == [replacement["id"]]
    assert len(events) == 4  # delivery, wrong, correction, replacement


async def test_shipment_that_did_not_occur_puts_the_lot_back_to_active(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    shipment = await event(api, origin.headers, lot["id"], type="shipment", destination_country="JP")
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "shipped"

    response = await correct(api, origin.headers, lot["id"], shipment["id"], reason="did_not_occur")

    assert response.status_code == 201, response.text
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "active"


async def test_a_merge_cannot_be_corrected(api: httpx.AsyncClient, origin: Origin, lot: Any) -> None:
    other = await deliver(api, origin, "50")
    body = {
        "inputs": [{"lot_id": lot["id"], "quantity_kg": "10"}, {"lot_id": other["id"], "quantity_kg": "10"}]
    }
    merged = (await api.post(f"{LOTS}/merge", json=body, headers=origin.headers)).json()

    response = await correct(api, origin.headers, merged["id"], merged["created_event_id"], quantity_kg="25")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "not_correctable"


async def test_an_event_cannot_be_corrected_twice(api: httpx.AsyncClient, origin: Origin, lot: Any) -> None:
    storage = await event(api, origin.headers, lot["id"], type="storage", warehouse="Almacén 1")
    first = await correct(api, origin.headers, lot["id"], storage["id"], reason="did_not_occur")
    assert first.status_code == 201, first.text

    second = await correct(
        api, origin.headers, lot["id"], storage["id"], replacement={"warehouse": "Almacén 2"}
    )

    assert second.status_code == 409, second.text
    assert second.json()["code"] == "already_corrected"


async def test_correcting_an_event_of_another_lot_is_refused(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    other = await deliver(api, origin, "50")
    storage = await event(api, origin.headers, other["id"], type="storage", warehouse="Almacén 1")

    response = await correct(api, origin.headers, lot["id"], storage["id"], reason="did_not_occur")

    assert response.status_code == 422, response.text
    assert ("corrects_event_id", "unknown_event") in field_errors(response)
    assert (await timeline(api, origin.headers, other["id"]))[-1]["corrected_by_event_id"] is None


async def test_delivery_that_did_not_occur_is_depleted(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    response = await correct(api, origin.headers, lot["id"], lot["created_event_id"], reason="did_not_occur")
    assert response.status_code == 201, response.text

    # As the projection would be rebuilt from the ledger: nothing left → depleted (like a full draw).
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "depleted"


async def test_raising_the_weight_of_a_depleted_delivery_makes_the_new_kilos_usable(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    assert (await split(api, origin.headers, lot["id"], "100")).status_code == 201
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "depleted"

    response = await correct(api, origin.headers, lot["id"], lot["created_event_id"], quantity_kg="110")
    assert response.status_code == 201, response.text

    fixed = await get_lot(api, origin.headers, lot["id"])
    assert (fixed["quantity_kg"], fixed["remaining_kg"], fixed["status"]) == (110, 10, "active")
    assert (await split(api, origin.headers, lot["id"], "10")).status_code == 201


async def test_transformation_that_did_not_occur_gives_the_input_back(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    body = {"process": "drying", "output_form": "dry", "output_quantity_kg": "32", "input_quantity_kg": "80"}
    made = await api.post(f"{LOTS}/{lot['id']}/transform", json=body, headers=origin.headers)
    assert made.status_code == 201, made.text
    dry = made.json()
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 20

    response = await correct(api, origin.headers, dry["id"], dry["created_event_id"], reason="did_not_occur")
    assert response.status_code == 201, response.text

    voided = await get_lot(api, origin.headers, dry["id"])
    assert (voided["quantity_kg"], voided["remaining_kg"]) == (0, 0)
    # The beans were never dried: the 80 kg are still wet, in the input lot (mass balance).
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 100


async def test_shipment_correction_with_a_replacement_keeps_the_lot_shipped(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    wrong = await event(api, origin.headers, lot["id"], type="shipment", destination_country="DE")

    response = await correct(
        api, origin.headers, lot["id"], wrong["id"], replacement={"destination_country": "NL"}
    )

    assert response.status_code == 201, response.text
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "shipped"
    standing = [e for e in await timeline(api, origin.headers, lot["id"]) if e["type"] == "shipment"]
    assert {(e["data"]["destination_country"], e["corrected_by_event_id"]) for e in standing} == {
        ("DE", response.json()["id"]),
        ("NL", None),
    }


async def test_sale_of_a_shipped_lot_that_did_not_occur_leaves_it_shipped(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    await event(api, origin.headers, lot["id"], type="shipment", destination_country="US")
    sale = await event(api, origin.headers, lot["id"], type="sale", buyer="Chocolate Co.")
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "sold"

    response = await correct(api, origin.headers, lot["id"], sale["id"], reason="did_not_occur")

    assert response.status_code == 201, response.text
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "shipped"


async def test_a_corrected_fair_presentation_moves_to_the_replacement_fair(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    fairs = []
    for name in ("Expoalimentaria", "Salón del Cacao"):
        body = {"name": name, "city": "Lima", "starts_on": "2026-09-23", "ends_on": "2026-09-25"}
        created = await api.post("/api/v1/fairs", json=body, headers=origin.headers)
        assert created.status_code == 201, created.text
        fairs.append(created.json()["id"])
    wrong = await event(api, origin.headers, lot["id"], type="fair", fair_id=fairs[0])

    response = await correct(api, origin.headers, lot["id"], wrong["id"], replacement={"fair_id": fairs[1]})

    assert response.status_code == 201, response.text
    listed = [(await api.get(f"/api/v1/fairs/{f}/catalog")).json()["items"] for f in fairs]
    assert [[item["lot_id"] for item in items] for items in listed] == [[], [lot["id"]]]


async def test_a_handover_cannot_be_corrected(
    api: httpx.AsyncClient, headers_for: HeadersFor, origin: Origin, lot: Any
) -> None:
    handover = await event(api, origin.headers, lot["id"], type="handover", to_organization="Exportadora X")
    exporter = headers_for("exporter", organization="Exportadora X")

    response = await correct(api, exporter, lot["id"], handover["id"], reason="did_not_occur")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "not_correctable"
    assert (await get_lot(api, exporter, lot["id"]))["holder_organization"] == "Exportadora X"


async def test_an_invalid_replacement_is_refused_and_writes_nothing(
    api: httpx.AsyncClient, origin: Origin, lot: Any
) -> None:
    wrong = await event(api, origin.headers, lot["id"], type="shipment", destination_country="DE")

    response = await correct(
        api, origin.headers, lot["id"], wrong["id"], replacement={"destination_country": "ZZ"}
    )

    assert response.status_code == 422, response.text
    assert ("replacement.destination_country", "unknown_country") in field_errors(response)
    assert [e["corrected_by_event_id"] for e in await timeline(api, origin.headers, lot["id"])] == [
        None,
        None,
    ]
    assert (await get_lot(api, origin.headers, lot["id"]))["status"] == "shipped"


@pytest.mark.parametrize(
    ("target", "extra", "code"),
    [
        ("delivery", {"replacement": {"warehouse": "Almacén 1"}}, "replacement_not_allowed"),
        ("delivery", {}, "quantity_required"),
        ("storage", {"quantity_kg": "90"}, "quantity_not_allowed"),
    ],
)
async def test_a_correction_must_fit_the_kind_of_event(
    api: httpx.AsyncClient, origin: Origin, lot: Any, target: str, extra: dict[str, Any], code: str
) -> None:
    storage = await event(api, origin.headers, lot["id"], type="storage", warehouse="Almacén 1")
    wrong_id = lot["created_event_id"] if target == "delivery" else storage["id"]

    response = await correct(api, origin.headers, lot["id"], wrong_id, **extra)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert (await get_lot(api, origin.headers, lot["id"]))["quantity_kg"] == 100
