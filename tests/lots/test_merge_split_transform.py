"""Kilograms moving between lots: merge, split and transformation, and the mass balance they keep."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.lots.rules import YIELDS, YieldRange
from tests.factories import Origin, create_origin, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
EXPORTER_ORG = "Exportadora Andina SAC"


def parsed(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def field_errors(response: httpx.Response) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in response.json().get("errors", [])}


async def get_lot(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str) -> Any:
    response = await api.get(f"{LOTS}/{lot_id}", headers=headers)
    assert response.status_code == 200, response.text
    return parsed(response)


async def merge(
    api: httpx.AsyncClient, headers: dict[str, str], inputs: list[tuple[str, str]], **extra: Any
) -> httpx.Response:
    body = {"inputs": [{"lot_id": i, "quantity_kg": kg} for i, kg in inputs], **extra}
    return await api.post(f"{LOTS}/merge", json=body, headers=headers)


async def split(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, *kgs: str) -> httpx.Response:
    body = {"outputs": [{"quantity_kg": kg} for kg in kgs]}
    return await api.post(f"{LOTS}/{lot_id}/split", json=body, headers=headers)


async def transform(
    api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, **body: Any
) -> httpx.Response:
    return await api.post(f"{LOTS}/{lot_id}/transform", json=body, headers=headers)


async def hand_over(api: httpx.AsyncClient, origin: Origin, lot_id: str, organization: str) -> None:
    body = {"type": "handover", "to_organization": organization}
    response = await api.post(f"{LOTS}/{lot_id}/events", json=body, headers=origin.headers)
    assert response.status_code == 201, response.text


# --- merge -------------------------------------------------------------------------------------


async def test_merge_takes_the_stated_kilograms_from_each_input(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    a = await deliver(api, origin, "100")
    b = await deliver(api, origin, "50.5")

    response = await merge(api, origin.headers, [(a["id"], "60"), (b["id"], "40.25")])

    assert response.status_code == 201, response.text
    merged = parsed(response)
    assert merged["origin"] == "merge"
    assert merged["quantity_kg"] == merged["remaining_kg"] == Decimal("100.25")
    assert (merged["product"], merged["form"], merged["status"]) == ("cacao", "baba", "active")
    assert merged["cooperative_id"] == origin.cooperative_id
    assert (await get_lot(api, origin.headers, a["id"]))["remaining_kg"] == 40
    assert (await get_lot(api, origin.headers, b["id"]))["remaining_kg"] == Decimal("10.25")


async def test_merge_of_everything_left_depletes_the_inputs(api: httpx.AsyncClient, origin: Origin) -> None:
    a = await deliver(api, origin, "30")
    b = await deliver(api, origin, "20")

    response = await merge(api, origin.headers, [(a["id"], "30"), (b["id"], "20")])

    assert response.status_code == 201, response.text
    for lot in (a, b):
        state = await get_lot(api, origin.headers, lot["id"])
        assert (state["remaining_kg"], state["status"]) == (0, "depleted")
        assert state["quantity_kg"] == lot["quantity_kg"]


async def test_merge_of_cacao_and_coffee_is_refused(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    coffee = await create_origin(
        api, admin_headers, headers_for, crop="coffee", cooperative=origin.cooperative
    )
    cacao_lot = await deliver(api, origin, "10")
    coffee_lot = await deliver(api, coffee, "10")

    response = await merge(api, origin.headers, [(cacao_lot["id"], "5"), (coffee_lot["id"], "5")])

    assert response.status_code == 422, response.text
    assert ("inputs", "products_mixed") in field_errors(response)
    assert (await get_lot(api, origin.headers, cacao_lot["id"]))["remaining_kg"] == 10


async def test_merge_of_two_forms_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    wet = await deliver(api, origin, "10", form="baba")
    dry = await deliver(api, origin, "10", form="dry")

    response = await merge(api, origin.headers, [(wet["id"], "5"), (dry["id"], "5")])

    assert response.status_code == 422, response.text
    assert ("inputs", "forms_mixed") in field_errors(response)


async def test_merge_with_a_stated_form_other_than_the_inputs_is_refused(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    a = await deliver(api, origin, "10")
    b = await deliver(api, origin, "10")

    response = await merge(api, origin.headers, [(a["id"], "5"), (b["id"], "5")], form="dry")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "form_mismatch"


async def test_admin_cannot_merge_lots_of_two_cooperatives(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)
    mine = await deliver(api, origin, "10")
    theirs = await deliver(api, other, "10")

    response = await merge(api, admin_headers, [(mine["id"], "5"), (theirs["id"], "5")])

    assert response.status_code == 422, response.text
    assert ("inputs", "cooperatives_mixed") in field_errors(response)
    assert (await get_lot(api, admin_headers, theirs["id"]))["remaining_kg"] == 10


async def test_manager_cannot_merge_in_another_cooperatives_lot(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)
    mine = await deliver(api, origin, "10")
    theirs = await deliver(api, other, "10")

    response = await merge(api, origin.headers, [(mine["id"], "5"), (theirs["id"], "5")])

    # The other cooperative's lot does not exist for this manager.
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"
    assert (await get_lot(api, origin.headers, mine["id"]))["remaining_kg"] == 10


async def test_exporter_merges_lots_of_two_cooperatives_handed_to_it(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, origin: Origin
) -> None:
    other = await create_origin(api, admin_headers, headers_for)
    exporter = headers_for("exporter", organization=EXPORTER_ORG)
    mine = await deliver(api, origin, "10", form="dry")
    theirs = await deliver(api, other, "20", form="dry")
    await hand_over(api, origin, mine["id"], EXPORTER_ORG)
    await hand_over(api, other, theirs["id"], EXPORTER_ORG)

    response = await merge(api, exporter, [(mine["id"], "10"), (theirs["id"], "15")])

    assert response.status_code == 201, response.text
    container = parsed(response)
    assert container["cooperative_id"] is None
    assert container["holder_organization"] == EXPORTER_ORG
    assert container["quantity_kg"] == 25
    assert (await get_lot(api, exporter, theirs["id"]))["remaining_kg"] == 5


async def test_merge_naming_a_lot_twice_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    a = await deliver(api, origin, "10")

    response = await merge(api, origin.headers, [(a["id"], "2"), (a["id"], "3")])

    assert response.status_code == 422, response.text
    assert ("inputs", "duplicate_input") in field_errors(response)
    assert (await get_lot(api, origin.headers, a["id"]))["remaining_kg"] == 10


async def test_merge_taking_more_than_is_left_is_refused(api: httpx.AsyncClient, origin: Origin) -> None:
    a = await deliver(api, origin, "10")
    b = await deliver(api, origin, "10")

    response = await merge(api, origin.headers, [(a["id"], "5"), (b["id"], "10.001")])

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "insufficient_quantity"
    assert (await get_lot(api, origin.headers, a["id"]))["remaining_kg"] == 10


# --- split -------------------------------------------------------------------------------------


async def test_split_creates_bags_and_takes_their_sum(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "100")

    response = await split(api, origin.headers, lot["id"], "10", "30.5")

    assert response.status_code == 201, response.text
    bags = parsed(response)["lots"]
    assert [b["quantity_kg"] for b in bags] == [10, Decimal("30.5")]
    assert all(b["origin"] == "split" and b["form"] == "baba" for b in bags)
    assert all(b["cooperative_id"] == origin.cooperative_id for b in bags)
    assert all(b["harvested_on"] == lot["harvested_on"] for b in bags)
    left = await get_lot(api, origin.headers, lot["id"])
    assert (left["quantity_kg"], left["remaining_kg"], left["status"]) == (100, Decimal("59.5"), "active")


async def test_split_exceeding_what_is_left_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")
    assert (await split(api, origin.headers, lot["id"], "60")).status_code == 201

    response = await split(api, origin.headers, lot["id"], "20", "20.001")

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "insufficient_quantity"
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 40


async def test_split_of_everything_depletes_the_lot(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "50")

    response = await split(api, origin.headers, lot["id"], "20", "30")

    assert response.status_code == 201, response.text
    left = await get_lot(api, origin.headers, lot["id"])
    assert (left["remaining_kg"], left["status"]) == (0, "depleted")


async def test_drawing_from_a_depleted_lot_is_refused_as_not_active(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "50")
    other = await deliver(api, origin, "50")
    assert (await split(api, origin.headers, lot["id"], "50")).status_code == 201

    attempts = [
        await split(api, origin.headers, lot["id"], "1"),
        await merge(api, origin.headers, [(other["id"], "1"), (lot["id"], "1")]),
        await transform(
            api, origin.headers, lot["id"], process="drying", output_form="dry", output_quantity_kg="0.4"
        ),
    ]

    for response in attempts:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "lot_not_active"
    assert (await get_lot(api, origin.headers, other["id"]))["remaining_kg"] == 50


# --- transformation ----------------------------------------------------------------------------


def _yield_id(y: YieldRange) -> str:
    return f"{y.product.value}-{y.process.value}-{y.input_form.value}-{y.output_form.value}"


async def _input_lot(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
    y: YieldRange,
    kg: str,
) -> tuple[Origin, dict[str, Any]]:
    origin = await create_origin(api, admin_headers, headers_for, crop=y.product.value)
    return origin, await deliver(api, origin, kg, form=y.input_form.value)


@pytest.mark.parametrize("y", YIELDS, ids=_yield_id)
async def test_transformation_accepts_its_yield_bounds(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, y: YieldRange
) -> None:
    origin, lot = await _input_lot(api, admin_headers, headers_for, y, "2000")

    for bound in (y.low, y.high):
        output = str(bound * 1000)
        response = await transform(
            api,
            origin.headers,
            lot["id"],
            process=y.process.value,
            output_form=y.output_form.value,
            output_quantity_kg=output,
            input_quantity_kg="1000",
        )
        assert response.status_code == 201, response.text
        made = parsed(response)
        assert (made["origin"], made["form"], made["quantity_kg"]) == (
            "transformation",
            y.output_form.value,
            Decimal(output),
        )
    left = await get_lot(api, origin.headers, lot["id"])
    assert (left["remaining_kg"], left["status"]) == (0, "depleted")


@pytest.mark.parametrize("y", YIELDS, ids=_yield_id)
async def test_transformation_refuses_a_yield_just_outside_its_range(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, y: YieldRange
) -> None:
    origin, lot = await _input_lot(api, admin_headers, headers_for, y, "1000")
    gram = Decimal("0.001")

    for output in (y.low * 1000 - gram, y.high * 1000 + gram):
        response = await transform(
            api,
            origin.headers,
            lot["id"],
            process=y.process.value,
            output_form=y.output_form.value,
            output_quantity_kg=str(output),
        )
        assert response.status_code == 422, f"{output}: {response.text}"
        assert ("output_quantity_kg", "yield_out_of_range") in field_errors(response)
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 1000


async def test_transformation_takes_all_that_is_left_by_default(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")
    assert (await split(api, origin.headers, lot["id"], "20")).status_code == 201

    response = await transform(
        api, origin.headers, lot["id"], process="drying", output_form="dry", output_quantity_kg="32"
    )

    assert response.status_code == 201, response.text
    assert parsed(response)["quantity_kg"] == 32
    left = await get_lot(api, origin.headers, lot["id"])
    assert (left["remaining_kg"], left["status"]) == (0, "depleted")


async def test_transformation_of_part_of_a_lot_leaves_the_rest(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")

    response = await transform(
        api,
        origin.headers,
        lot["id"],
        process="fermentation",
        output_form="fermented",
        output_quantity_kg="34",
        input_quantity_kg="40",
    )

    assert response.status_code == 201, response.text
    left = await get_lot(api, origin.headers, lot["id"])
    assert (left["remaining_kg"], left["status"]) == (60, "active")


async def test_transformation_needing_more_than_is_left_is_refused(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")

    response = await transform(
        api,
        origin.headers,
        lot["id"],
        process="drying",
        output_form="dry",
        output_quantity_kg="40",
        input_quantity_kg="100.001",
    )

    assert response.status_code == 409, response.text
    assert response.json()["code"] == "insufficient_quantity"


async def test_hulling_cacao_is_an_unknown_transformation(api: httpx.AsyncClient, origin: Origin) -> None:
    lot = await deliver(api, origin, "100")

    response = await transform(
        api, origin.headers, lot["id"], process="hulling", output_form="dry", output_quantity_kg="40"
    )

    assert response.status_code == 422, response.text
    assert ("output_form", "unknown_transformation") in field_errors(response)
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 100


async def test_transformation_into_a_form_of_another_product_is_refused(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    lot = await deliver(api, origin, "100")

    response = await transform(
        api, origin.headers, lot["id"], process="drying", output_form="green", output_quantity_kg="40"
    )

    assert response.status_code == 422, response.text
    assert ("output_form", "form_not_of_product") in field_errors(response)
    assert (await get_lot(api, origin.headers, lot["id"]))["remaining_kg"] == 100
