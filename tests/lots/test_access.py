"""Who may see and act on a lot (ARCHITECTURE.md: Identity and access).

A lot is invisible — 404 lot_not_found, exactly as for a lot that does not exist — to a manager of
another cooperative and to an exporter it was not handed to, on every route that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import Origin, create_origin, deliver

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"
HOLDER_ORG = "Exportadora Andina SAC"
OTHER_ORG = "Exportadora del Norte SAC"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {lot} is the lot asked about
    success: int
    body: dict[str, Any] | None = None
    merge: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (" (merge)" if self.merge else "")


ROUTES = [
    Route("GET", "/api/v1/lots/{lot}", 200),
    Route("GET", "/api/v1/lots/{lot}/events", 200),
    Route("GET", "/api/v1/lots/{lot}/events?format=epcis", 200),
    Route("GET", "/api/v1/lots/{lot}/events?format=epcis&scope=lineage", 200),
    Route("GET", "/api/v1/lots/{lot}/lineage", 200),
    Route("GET", "/api/v1/lots/{lot}/provenance", 200),
    Route("GET", "/api/v1/lots/{lot}/qr.svg", 200),
    Route("GET", "/api/v1/lots/{lot}/qr.png", 200),
    Route("GET", "/api/v1/lots/labels.pdf?ids={lot}", 200),
    Route("POST", "/api/v1/lots/{lot}/split", 201, {"outputs": [{"quantity_kg": "10"}]}),
    Route(
        "POST",
        "/api/v1/lots/{lot}/transform",
        201,
        {"process": "drying", "output_form": "dry", "output_quantity_kg": "40"},
    ),
    Route("POST", "/api/v1/lots/{lot}/events", 201, {"type": "storage", "warehouse": "Almacén 1"}),
    Route("POST", "/api/v1/lots/{lot}/events", 201, {"type": "quality", "grade": "A"}),
    Route("POST", "/api/v1/lots/merge", 201, merge=True),
]


@dataclass(frozen=True)
class World:
    coop_a: Origin
    coop_b: Origin
    target: dict[str, Any]  # coop A's lot, handed to HOLDER_ORG
    sibling: dict[str, Any]  # another of coop A's lots, handed to HOLDER_ORG
    b_lot: dict[str, Any]  # coop B's own lot, never handed over
    holder: dict[str, str]
    other_exporter: dict[str, str]


async def hand_over(api: httpx.AsyncClient, origin: Origin, lot_id: str, organization: str) -> None:
    body = {"type": "handover", "to_organization": organization}
    response = await api.post(f"{LOTS}/{lot_id}/events", json=body, headers=origin.headers)
    assert response.status_code == 201, response.text


@pytest.fixture
async def world(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> World:
    coop_a = await create_origin(api, admin_headers, headers_for)
    coop_b = await create_origin(api, admin_headers, headers_for)
    target = await deliver(api, coop_a, "100")
    sibling = await deliver(api, coop_a, "50")
    for lot in (target, sibling):
        await hand_over(api, coop_a, lot["id"], HOLDER_ORG)
    return World(
        coop_a=coop_a,
        coop_b=coop_b,
        target=target,
        sibling=sibling,
        b_lot=await deliver(api, coop_b, "70"),
        holder=headers_for("exporter", organization=HOLDER_ORG),
        other_exporter=headers_for("exporter", organization=OTHER_ORG),
    )


async def call(
    api: httpx.AsyncClient, route: Route, lot_id: str, headers: dict[str, str], *, with_lot: str | None = None
) -> httpx.Response:
    url = route.path.format(lot=lot_id)
    if route.merge:
        body: dict[str, Any] | None = {
            "inputs": [{"lot_id": lot_id, "quantity_kg": "5"}, {"lot_id": with_lot, "quantity_kg": "5"}]
        }
    else:
        body = route.body
    return await api.request(route.method, url, json=body, headers=headers)


async def remaining(api: httpx.AsyncClient, admin_headers: dict[str, str], lot_id: str) -> Any:
    response = await api.get(f"{LOTS}/{lot_id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    return response.json()["remaining_kg"]


async def event_count(api: httpx.AsyncClient, admin_headers: dict[str, str], lot_id: str) -> int:
    response = await api.get(f"{LOTS}/{lot_id}/events", headers=admin_headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_manager_of_another_cooperative_gets_404_on_every_lot_route(
    api: httpx.AsyncClient, admin_headers: dict[str, str], world: World, route: Route
) -> None:
    events_before = await event_count(api, admin_headers, world.target["id"])

    response = await call(api, route, world.target["id"], world.coop_b.headers, with_lot=world.b_lot["id"])

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"
    assert await remaining(api, admin_headers, world.target["id"]) == 100
    assert await remaining(api, admin_headers, world.b_lot["id"]) == 70
    assert await event_count(api, admin_headers, world.target["id"]) == events_before


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_exporter_of_another_organisation_gets_404_on_every_lot_route(
    api: httpx.AsyncClient, admin_headers: dict[str, str], world: World, route: Route
) -> None:
    events_before = await event_count(api, admin_headers, world.target["id"])

    response = await call(api, route, world.target["id"], world.other_exporter, with_lot=world.sibling["id"])

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"
    assert await remaining(api, admin_headers, world.target["id"]) == 100
    assert await event_count(api, admin_headers, world.target["id"]) == events_before


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_a_lot_that_does_not_exist_answers_the_same_404(
    api: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await call(api, route, "lot_doesnotexist", world.holder, with_lot=world.sibling["id"])

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "lot_not_found"


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_the_exporter_holding_the_lot_may_use_every_lot_route(
    api: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await call(api, route, world.target["id"], world.holder, with_lot=world.sibling["id"])

    assert response.status_code == route.success, response.text


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_no_token_gets_401_on_every_lot_route(
    api: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await call(api, route, world.target["id"], {}, with_lot=world.sibling["id"])

    assert response.status_code == 401, response.text


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "GET"], ids=str)
async def test_manager_still_reads_a_lot_after_handing_it_over(
    api: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await call(api, route, world.target["id"], world.coop_a.headers)

    assert response.status_code == 200, response.text


async def test_certifier_reads_every_lot_but_may_not_act(
    api: httpx.AsyncClient, headers_for: HeadersFor, world: World
) -> None:
    certifier = headers_for("certifier", certifying_body_id="cb_1")

    assert (await api.get(f"{LOTS}/{world.b_lot['id']}", headers=certifier)).status_code == 200
    split = next(r for r in ROUTES if r.path.endswith("/split"))
    response = await call(api, split, world.b_lot["id"], certifier)
    assert response.status_code == 403, response.text


# --- GET /lots ---------------------------------------------------------------------------------


async def listed(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await api.get(LOTS, headers=headers, params={"limit": 500, **params})


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_manager_lists_only_their_cooperatives_lots(api: httpx.AsyncClient, world: World) -> None:
    assert ids(await listed(api, world.coop_a.headers)) == {world.target["id"], world.sibling["id"]}
    assert ids(await listed(api, world.coop_b.headers)) == {world.b_lot["id"]}
    own = await listed(api, world.coop_b.headers, cooperative_id=world.coop_b.cooperative_id)
    assert ids(own) == {world.b_lot["id"]}


async def test_manager_asking_for_another_cooperatives_lots_gets_404(
    api: httpx.AsyncClient, world: World
) -> None:
    response = await listed(api, world.coop_b.headers, cooperative_id=world.coop_a.cooperative_id)

    assert response.status_code == 404, response.text


async def test_exporter_lists_only_the_lots_handed_to_it(api: httpx.AsyncClient, world: World) -> None:
    assert ids(await listed(api, world.holder)) == {world.target["id"], world.sibling["id"]}
    assert ids(await listed(api, world.other_exporter)) == set()


async def test_exporter_without_an_organisation_lists_nothing(
    api: httpx.AsyncClient, headers_for: HeadersFor, world: World
) -> None:
    assert ids(await listed(api, headers_for("exporter"))) == set()


async def test_admin_lists_every_cooperatives_lots_and_filters_by_cooperative(
    api: httpx.AsyncClient, admin_headers: dict[str, str], world: World
) -> None:
    everything = ids(await listed(api, admin_headers))
    assert {world.target["id"], world.sibling["id"], world.b_lot["id"]} <= everything
    only_b = await listed(api, admin_headers, cooperative_id=world.coop_b.cooperative_id)
    assert ids(only_b) == {world.b_lot["id"]}


async def test_listing_lots_without_a_token_gets_401(api: httpx.AsyncClient, world: World) -> None:
    assert (await api.get(LOTS)).status_code == 401
