"""``GET /plots/{id}/origin``: a plot with its farmer and cooperative, under GET /plots/{id}'s access rule.

The lot ledger checks a delivery with this one call; what it answers must be exactly what the three
single reads answer, and a manager of another cooperative must not learn that the plot exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import create_cooperative, create_farmer, create_plot

HeadersFor = Callable[..., dict[str, str]]
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Registered:
    cooperative: dict[str, Any]
    farmer: dict[str, Any]
    plot: dict[str, Any]
    manager: dict[str, str]


def origin_path(plot_id: str) -> str:
    return f"/api/v1/plots/{plot_id}/origin"


async def register(
    client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> Registered:
    coop = await create_cooperative(client, admin_headers)
    manager = headers_for("manager", cooperative_id=coop["id"], user_id=f"usr_mgr_{coop['id'][-8:]}")
    farmer = await create_farmer(client, manager, coop["id"])
    plot = await create_plot(client, manager, farmer["id"])
    return Registered(coop, farmer, plot, manager)


@pytest.fixture
async def registered(
    client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> Registered:
    return await register(client, admin_headers, headers_for)


async def read_json(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_the_plots_manager_gets_what_the_three_single_reads_answer(
    client: httpx.AsyncClient, registered: Registered
) -> None:
    headers = registered.manager
    plot_id, farmer_id, coop_id = registered.plot["id"], registered.farmer["id"], registered.cooperative["id"]

    origin = await read_json(client, origin_path(plot_id), headers)

    assert set(origin) == {"plot", "farmer", "cooperative"}
    assert origin["plot"] == await read_json(client, f"/api/v1/plots/{plot_id}", headers)
    assert origin["farmer"] == await read_json(client, f"/api/v1/farmers/{farmer_id}", headers)
    assert origin["cooperative"] == await read_json(client, f"/api/v1/cooperatives/{coop_id}", headers)


async def test_the_plots_manager_gets_the_plots_own_farmer_and_cooperative(
    client: httpx.AsyncClient, registered: Registered
) -> None:
    other_farmer = await create_farmer(client, registered.manager, registered.cooperative["id"])
    await create_plot(client, registered.manager, other_farmer["id"])

    origin = await read_json(client, origin_path(registered.plot["id"]), registered.manager)

    assert origin["plot"]["id"] == registered.plot["id"]
    assert origin["farmer"]["id"] == registered.farmer["id"] == origin["plot"]["farmer_id"]
    assert origin["cooperative"]["id"] == registered.cooperative["id"] == origin["plot"]["cooperative_id"]


async def test_an_admin_reads_any_plots_origin(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registered: Registered
) -> None:
    origin = await read_json(client, origin_path(registered.plot["id"]), admin_headers)

    assert origin["plot"]["id"] == registered.plot["id"]
    assert origin["farmer"]["id"] == registered.farmer["id"]
    assert origin["cooperative"]["id"] == registered.cooperative["id"]


async def test_a_certifier_reads_any_plots_origin_as_it_reads_the_plot(
    client: httpx.AsyncClient, headers_for: HeadersFor, registered: Registered
) -> None:
    certifier = headers_for("certifier", certifying_body_id="cb_control_union")

    origin = await read_json(client, origin_path(registered.plot["id"]), certifier)

    assert origin["plot"]["id"] == registered.plot["id"]


async def test_a_manager_of_another_cooperative_gets_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, registered: Registered
) -> None:
    other = await register(client, admin_headers, headers_for)

    response = await client.get(origin_path(registered.plot["id"]), headers=other.manager)

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "not_found"
    assert registered.farmer["name"] not in response.text
    assert registered.cooperative["name"] not in response.text


async def test_the_404_for_another_cooperatives_plot_is_the_404_for_an_unknown_plot(
    client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor, registered: Registered
) -> None:
    other = await register(client, admin_headers, headers_for)

    hidden = await client.get(origin_path(registered.plot["id"]), headers=other.manager)
    unknown = await client.get(origin_path("plot_doesnotexist"), headers=other.manager)

    assert hidden.status_code == unknown.status_code == 404
    assert {k: v for k, v in hidden.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }


async def test_an_exporter_gets_404_as_for_the_plot(
    client: httpx.AsyncClient, headers_for: HeadersFor, registered: Registered
) -> None:
    exporter = headers_for("exporter", organization="Exportadora Andina SAC")

    response = await client.get(origin_path(registered.plot["id"]), headers=exporter)

    assert response.status_code == 404, response.text


async def test_an_unknown_plot_is_404(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get(origin_path("plot_doesnotexist"), headers=admin_headers)

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "not_found"


async def test_without_a_token_it_is_401(client: httpx.AsyncClient, registered: Registered) -> None:
    response = await client.get(origin_path(registered.plot["id"]))

    assert response.status_code == 401, response.text


async def test_the_plots_coordinates_keep_the_digits_registered(
    client: httpx.AsyncClient, registered: Registered
) -> None:
    raw = (
        '{"name": "Parcela ceros", "crop": "cacao", "geometry": {"type": "Polygon", "coordinates": '
        "[[[-76.360100, -6.487500], [-76.359100, -6.487500], [-76.359100, -6.486500], "
        "[-76.360100, -6.486500], [-76.360100, -6.487500]]]}}"
    )
    created = await client.post(
        f"/api/v1/farmers/{registered.farmer['id']}/plots",
        content=raw,
        headers={**registered.manager, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text

    response = await client.get(origin_path(created.json()["id"]), headers=registered.manager)

    assert response.status_code == 200, response.text
    assert "[-76.360100,-6.487500]" in response.text


async def test_the_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    operation = schema["paths"]["/api/v1/plots/{plot_id}/origin"]["get"]

    assert set(operation["responses"]) >= {"200", "401", "404"}
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]) == {
        "plot",
        "farmer",
        "cooperative",
    }
