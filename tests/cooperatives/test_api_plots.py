"""Plots through the API: every EUDR rule is a 422 problem naming its rule and field, on both DBs."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from tests.factories import (
    TARAPOTO_POINT,
    TARAPOTO_POLYGON,
    create_cooperative,
    create_farmer,
    create_plot,
)

TARAPOTO_RING = cast(list[list[float]], TARAPOTO_POLYGON["coordinates"][0])
BOW_TIE = [
    [-76.360123, -6.490456],
    [-76.359087, -6.489421],
    [-76.359102, -6.490433],
    [-76.360141, -6.489437],
    [-76.360123, -6.490456],
]
TINY_SQUARE = [  # ~0.01 m²: rounds to 0.0000 ha
    [-76.360123, -6.490457],
    [-76.360122, -6.490457],
    [-76.360122, -6.490456],
    [-76.360123, -6.490456],
    [-76.360123, -6.490457],
]
STRADDLING_BOLIVIA = [  # Kelluyo (Puno) across the Desaguadero to Guaqui (Bolivia)
    [-69.200001, -16.650001],
    [-68.850001, -16.650001],
    [-68.850001, -16.550001],
    [-69.200001, -16.550001],
    [-69.200001, -16.650001],
]


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


# (geometry, area_ha, code, field) for each rule
RULES: dict[str, tuple[Any, float | None, str, str]] = {
    "linestring": (
        {"type": "LineString", "coordinates": TARAPOTO_RING[:2]},
        None,
        "geometry_type_unsupported",
        "geometry.type",
    ),
    "multipolygon": (
        {"type": "MultiPolygon", "coordinates": [[TARAPOTO_RING]]},
        None,
        "geometry_type_unsupported",
        "geometry.type",
    ),
    "malformed-position": (
        {"type": "Point", "coordinates": ["-76.365123", "-6.487456"]},
        1.0,
        "geometry_malformed",
        "geometry.coordinates",
    ),
    "precision": (point(-76.4, -6.5), 1.0, "coordinate_precision", "geometry.coordinates"),
    "polygon-precision": (
        polygon([[round(x, 5), round(y, 5)] for x, y in TARAPOTO_RING]),
        None,
        "coordinate_precision",
        "geometry.coordinates",
    ),
    "out-of-range": (point(-200.123456, -6.487456), 1.0, "coordinate_out_of_range", "geometry.coordinates"),
    "too-few-positions": (
        polygon([TARAPOTO_RING[0], TARAPOTO_RING[1], TARAPOTO_RING[0]]),
        None,
        "polygon_too_few_positions",
        "geometry.coordinates",
    ),
    "unclosed": (
        polygon([*TARAPOTO_RING[:-1], [-76.360124, -6.490456]]),
        None,
        "polygon_ring_unclosed",
        "geometry.coordinates",
    ),
    "bow-tie": (polygon(BOW_TIE), None, "polygon_self_intersecting", "geometry.coordinates"),
    "point-without-area": (TARAPOTO_POINT, None, "point_area_required", "area_ha"),
    "point-over-4ha": (TARAPOTO_POINT, 4.5, "point_plot_over_4ha", "geometry"),
    "point-in-bolivia": (point(-68.119312, -16.489721), 1.0, "outside_peru", "geometry.coordinates"),
    "point-in-brazil": (point(-67.824317, -9.974713), 1.0, "outside_peru", "geometry.coordinates"),
    "point-in-ecuador": (point(-78.467811, -0.180712), 1.0, "outside_peru", "geometry.coordinates"),
    "straddling-border": (polygon(STRADDLING_BOLIVIA), None, "outside_peru", "geometry.coordinates"),
    "no-area": (polygon(TINY_SQUARE), None, "area_not_positive", "geometry.coordinates"),
}


async def new_farmer(client: httpx.AsyncClient, headers: dict[str, str], **coop: Any) -> dict[str, Any]:
    cooperative = await create_cooperative(client, headers, **coop)
    return await create_farmer(client, headers, cooperative["id"])


def plot_body(geometry: Any, area_ha: float | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Parcela La Loma", "crop": "cacao", "geometry": geometry, **extra}
    if area_ha is not None:
        body["area_ha"] = area_ha
    return body


async def farmer_plots(client: httpx.AsyncClient, headers: dict[str, str], farmer_id: str) -> list[Any]:
    response = await client.get(f"/api/v1/farmers/{farmer_id}/plots", headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


@pytest.mark.parametrize(("geometry", "area_ha", "code", "field"), list(RULES.values()), ids=list(RULES))
async def test_geometry_rule_answers_422_problem_naming_rule_and_field(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    geometry: Any,
    area_ha: float | None,
    code: str,
    field: str,
) -> None:
    farmer = await new_farmer(client, admin_headers)
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots", json=plot_body(geometry, area_ha), headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["status"], problem["code"]) == (422, code)
    assert (problem["errors"][0]["code"], problem["errors"][0]["field"]) == (code, field)


async def test_refused_plot_writes_nothing(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    farmer = await new_farmer(client, admin_headers)
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots", json=plot_body(polygon(BOW_TIE)), headers=admin_headers
    )
    assert response.status_code == 422
    assert await farmer_plots(client, admin_headers, farmer["id"]) == []


async def test_valid_polygon_is_created_with_its_computed_area(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        json=plot_body(TARAPOTO_POLYGON, altitude_m=350),
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    plot = response.json()
    assert isinstance(plot["area_ha"], float)
    assert 1.0 < plot["area_ha"] < 1.3
    assert plot["geometry"] == TARAPOTO_POLYGON
    assert (plot["farmer_id"], plot["cooperative_id"]) == (farmer["id"], farmer["cooperative_id"])
    assert (plot["crop"], plot["altitude_m"]) == ("cacao", 350)


async def test_declared_area_of_a_polygon_is_replaced_by_the_computed_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    plot = await create_plot(client, admin_headers, farmer["id"], area_ha=3.9)
    assert 1.0 < plot["area_ha"] < 1.3


async def test_point_of_at_most_four_hectares_with_area_is_created(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    plot = await create_plot(client, admin_headers, farmer["id"], geometry=TARAPOTO_POINT, area_ha=4.0)
    assert plot["area_ha"] == 4.0
    assert plot["geometry"] == TARAPOTO_POINT


async def test_coordinates_that_lost_trailing_zeros_are_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    ring = [list(p) for p in TARAPOTO_RING]
    ring[0] = ring[-1] = [-76.36012, -6.490456]  # -76.360120 as a JSON encoder sends it
    plot = await create_plot(client, admin_headers, farmer["id"], geometry=polygon(ring))
    assert plot["geometry"]["coordinates"][0][0] == [-76.36012, -6.490456]


async def test_six_decimals_sent_with_trailing_zeros_are_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # The check is on the digits in the body: "-76.360000" has six, although it is the float -76.36.
    farmer = await new_farmer(client, admin_headers)
    body = (
        '{"name": "Parcela", "crop": "cacao", "geometry": {"type": "Polygon", "coordinates": [['
        "[-76.360000, -6.490500], [-76.359000, -6.490500], [-76.359000, -6.489500], "
        "[-76.360000, -6.489500], [-76.360000, -6.490500]]]}}"
    )
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        content=body,
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["geometry"]["coordinates"][0][0] == [-76.36, -6.4905]


async def test_crop_the_cooperative_does_not_offer_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers, products=["coffee"])
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        json=plot_body(TARAPOTO_POLYGON, crop="cacao"),
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "crop_not_offered"
    assert problem["errors"][0]["field"] == "crop"
    assert await farmer_plots(client, admin_headers, farmer["id"]) == []


async def test_created_plot_is_read_back_by_id(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    created = await create_plot(client, admin_headers, farmer["id"])
    response = await client.get(f"/api/v1/plots/{created['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_unknown_plot_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/plots/plot_doesnotexist", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_farmer_plots_lists_the_farmers_plots(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    first = await create_plot(client, admin_headers, farmer["id"])
    second = await create_plot(client, admin_headers, farmer["id"], geometry=TARAPOTO_POINT, area_ha=2)
    listed = await farmer_plots(client, admin_headers, farmer["id"])
    assert sorted(p["id"] for p in listed) == sorted([first["id"], second["id"]])


async def test_batch_lookup_by_ids_returns_exactly_those_plots(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    farmer = await new_farmer(client, admin_headers)
    a, b, c = [await create_plot(client, admin_headers, farmer["id"]) for _ in range(3)]
    response = await client.get(
        "/api/v1/plots", params={"ids": f"{a['id']},{c['id']},plot_unknown"}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert sorted(p["id"] for p in response.json()["items"]) == sorted([a["id"], c["id"]])
    assert b["id"] not in {p["id"] for p in response.json()["items"]}


async def test_plot_coordinates_are_returned_with_the_digits_registered(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    farmer = await create_farmer(client, admin_headers, coop["id"])
    raw = (
        '{"name": "Parcela ceros", "crop": "cacao", "geometry": {"type": "Polygon", "coordinates": '
        "[[[-76.360100, -6.487500], [-76.359100, -6.487500], [-76.359100, -6.486500], "
        "[-76.360100, -6.486500], [-76.360100, -6.487500]]]}}"
    )
    created = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        content=raw,
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert "[-76.360100,-6.487500]" in created.text
    read = await client.get(f"/api/v1/plots/{created.json()['id']}", headers=admin_headers)
    assert "[-76.360100,-6.487500]" in read.text
    listed = await client.get(f"/api/v1/farmers/{farmer['id']}/plots", headers=admin_headers)
    assert "[-76.360100,-6.487500]" in listed.text
    # What the API gives back can be registered again: the digits survive the round trip.
    again = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        content=read.text.replace('"Parcela ceros"', '"Parcela ceros 2"'),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert again.status_code in (201, 422)
    assert again.json().get("code") != "coordinate_precision"


async def test_a_position_with_altitude_is_accepted_as_two_dimensional(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    farmer = await create_farmer(client, admin_headers, coop["id"])
    body = {
        "name": "Con altitud",
        "crop": "cacao",
        "area_ha": 1.5,
        "geometry": {"type": "Point", "coordinates": [-76.365123, -6.487456, 420.5]},
    }
    response = await client.post(f"/api/v1/farmers/{farmer['id']}/plots", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    assert response.json()["geometry"]["coordinates"] == [-76.365123, -6.487456]


async def test_a_second_plot_with_the_same_name_for_the_same_farmer_is_a_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    farmer = await create_farmer(client, admin_headers, coop["id"])
    await create_plot(client, admin_headers, farmer["id"], name="La Loma")
    again = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        json={"name": "La Loma", "crop": "cacao", "geometry": TARAPOTO_POLYGON},
        headers=admin_headers,
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "plot_name_taken"
    listed = await client.get(f"/api/v1/farmers/{farmer['id']}/plots", headers=admin_headers)
    assert len(listed.json()["items"]) == 1
