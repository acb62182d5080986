"""Who may see and change what in the registry (API.md "Identity", ARCHITECTURE.md "Identity and access").

A manager acts only inside their own cooperative; another cooperative's farmers and plots answer
404, never 403, so a manager cannot even learn that they exist.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from shared.auth import Principal, Role, TokenIssuer
from shared.settings import AuthSettings
from tests.factories import (
    TARAPOTO_POLYGON,
    cooperative_body,
    create_cooperative,
    create_farmer,
    create_plot,
    valid_dni,
)

HeadersFor = Callable[..., dict[str, str]]
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Side:
    """One cooperative with one farmer who has one plot."""

    coop_id: str
    farmer_id: str
    farmer_dni: str
    plot_id: str


@dataclass(frozen=True)
class World:
    a: Side
    b: Side
    manager_a: dict[str, str]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # placeholders: {coop}, {farmer}, {plot}
    success: int
    payload: str | None = None  # "farmer", "plot", "csv" or "patch"

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("POST", "/api/v1/cooperatives/{coop}/farmers", 201, "farmer"),
    Route("GET", "/api/v1/cooperatives/{coop}/farmers", 200),
    Route("POST", "/api/v1/cooperatives/{coop}/farmers/import", 201, "csv"),
    Route("GET", "/api/v1/farmers/{farmer}", 200),
    Route("POST", "/api/v1/farmers/{farmer}/plots", 201, "plot"),
    Route("GET", "/api/v1/farmers/{farmer}/plots", 200),
    Route("GET", "/api/v1/plots/{plot}", 200),
    Route("GET", "/api/v1/plots?cooperative_id={coop}", 200),
    Route("GET", "/api/v1/plots?farmer_id={farmer}", 200),
    Route("PATCH", "/api/v1/cooperatives/{coop}", 200, "patch"),
]
FARMER_AND_PLOT_ROUTES = [r for r in ROUTES if r.payload != "patch"]
ADMIN_ONLY_WRITES = [
    Route("POST", "/api/v1/cooperatives", 201, "cooperative"),
    Route("POST", "/api/v1/users", 201, "user"),
]


def farmers_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["farmer_name", "dni", "plot_name", "crop", "geometry"])
    writer.writerow(["Rosa Huamán", valid_dni(), "La Chacrita", "cacao", json.dumps(TARAPOTO_POLYGON)])
    return out.getvalue().encode()


async def send(
    client: httpx.AsyncClient, route: Route, side: Side, headers: dict[str, str]
) -> httpx.Response:
    url = route.path.format(coop=side.coop_id, farmer=side.farmer_id, plot=side.plot_id)
    kwargs: dict[str, Any] = {}
    if route.payload == "farmer":
        kwargs["json"] = {"name": "Juan Quispe", "dni": valid_dni(), "public_name_consent": False}
    elif route.payload == "plot":
        kwargs["json"] = {"name": "Parcela nueva", "crop": "cacao", "geometry": TARAPOTO_POLYGON}
    elif route.payload == "csv":
        kwargs["files"] = {"file": ("agricultores.csv", farmers_csv(), "text/csv")}
    elif route.payload == "patch":
        kwargs["json"] = {"name": "Cooperativa renombrada"}
    elif route.payload == "cooperative":
        kwargs["json"] = cooperative_body()
    elif route.payload == "user":
        kwargs["json"] = {"username": "nuevo.gerente", "password": "una-clave-larga", "role": "exporter"}
    return await client.request(route.method, url, headers=headers, **kwargs)


async def make_side(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Side:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    farmer = await create_farmer(client, admin_headers, coop["id"], dni=dni)
    plot = await create_plot(client, admin_headers, farmer["id"])
    return Side(coop_id=coop["id"], farmer_id=farmer["id"], farmer_dni=dni, plot_id=plot["id"])


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> World:
    a = await make_side(client, admin_headers)
    b = await make_side(client, admin_headers)
    return World(a=a, b=b, manager_a=headers_for(Role.MANAGER, cooperative_id=a.coop_id))


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_manager_gets_404_on_another_cooperatives_route(
    client: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await send(client, route, world.b, world.manager_a)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_manager_succeeds_on_own_cooperatives_route(
    client: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await send(client, route, world.a, world.manager_a)
    assert response.status_code == route.success, response.text


async def test_rejected_cross_cooperative_writes_leave_the_other_cooperative_unchanged(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    before = (await client.get(f"/api/v1/cooperatives/{world.b.coop_id}")).json()
    for route in ROUTES:
        if route.method != "GET":
            assert (await send(client, route, world.b, world.manager_a)).status_code == 404
    farmers = await client.get(f"/api/v1/cooperatives/{world.b.coop_id}/farmers", headers=admin_headers)
    plots = await client.get(f"/api/v1/plots?cooperative_id={world.b.coop_id}", headers=admin_headers)
    after = (await client.get(f"/api/v1/cooperatives/{world.b.coop_id}")).json()
    assert [f["id"] for f in farmers.json()["items"]] == [world.b.farmer_id]
    assert [p["id"] for p in plots.json()["items"]] == [world.b.plot_id]
    assert after == before


async def test_another_cooperatives_farmer_looks_exactly_like_a_missing_one(
    client: httpx.AsyncClient, world: World
) -> None:
    hidden = await client.get(f"/api/v1/farmers/{world.b.farmer_id}", headers=world.manager_a)
    missing = await client.get("/api/v1/farmers/farm_doesnotexist", headers=world.manager_a)
    assert hidden.status_code == missing.status_code == 404
    strip = {"instance"}
    assert {k: v for k, v in hidden.json().items() if k not in strip} == {
        k: v for k, v in missing.json().items() if k not in strip
    }


async def test_manager_listing_plots_without_filter_sees_only_own_cooperative(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get("/api/v1/plots", headers=world.manager_a)
    assert response.status_code == 200, response.text
    assert [p["id"] for p in response.json()["items"]] == [world.a.plot_id]


async def test_manager_looking_up_plots_by_id_never_gets_another_cooperatives_plot(
    client: httpx.AsyncClient, world: World
) -> None:
    ids = f"{world.a.plot_id},{world.b.plot_id}"
    response = await client.get(f"/api/v1/plots?ids={ids}", headers=world.manager_a)
    assert response.status_code == 200, response.text
    assert [p["id"] for p in response.json()["items"]] == [world.a.plot_id]


@pytest.mark.parametrize("route", FARMER_AND_PLOT_ROUTES, ids=str)
async def test_exporter_gets_404_on_farmer_and_plot_routes(
    client: httpx.AsyncClient, world: World, headers_for: HeadersFor, route: Route
) -> None:
    exporter = headers_for(Role.EXPORTER, organization="Exportadora Andina SAC")
    response = await send(client, route, world.a, exporter)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"


async def test_exporter_listing_all_plots_is_told_the_role_cannot(
    client: httpx.AsyncClient, world: World, headers_for: HeadersFor
) -> None:
    exporter = headers_for(Role.EXPORTER, organization="Exportadora Andina SAC")
    response = await client.get("/api/v1/plots", headers=exporter)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "role_required"


@pytest.mark.parametrize("role", [Role.EXPORTER, Role.CERTIFIER])
async def test_roles_other_than_admin_and_manager_get_403_on_patch(
    client: httpx.AsyncClient, world: World, headers_for: HeadersFor, role: Role
) -> None:
    scope = (
        {"organization": "Exportadora Andina SAC"}
        if role is Role.EXPORTER
        else {"certifying_body_id": "cb_x"}
    )
    response = await client.patch(
        f"/api/v1/cooperatives/{world.a.coop_id}",
        json={"name": "Otro nombre"},
        headers=headers_for(role, **scope),
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "role_required"


@pytest.mark.parametrize(
    "route",
    [
        *ROUTES,
        *ADMIN_ONLY_WRITES,
        Route("GET", "/api/v1/plots", 200),
        Route("GET", "/api/v1/users/me", 200),
    ],
    ids=str,
)
async def test_missing_token_gets_401_with_bearer_challenge(
    client: httpx.AsyncClient, world: World, route: Route
) -> None:
    response = await send(client, route, world.a, {})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthorized"


async def test_token_signed_by_another_key_gets_401(client: httpx.AsyncClient, world: World) -> None:
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    forger = TokenIssuer(AuthSettings(private_key=SecretStr(pem)))
    token = forger.issue(Principal(user_id="usr_x", username="x", role=Role.ADMIN))
    response = await client.get(
        f"/api/v1/farmers/{world.a.farmer_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.EXPORTER, Role.CERTIFIER])
@pytest.mark.parametrize("route", ADMIN_ONLY_WRITES, ids=str)
async def test_non_admin_gets_403_on_admin_only_creation(
    client: httpx.AsyncClient, world: World, headers_for: HeadersFor, role: Role, route: Route
) -> None:
    scope = {
        Role.MANAGER: {"cooperative_id": world.a.coop_id},
        Role.EXPORTER: {"organization": "Exportadora Andina SAC"},
        Role.CERTIFIER: {"certifying_body_id": "cb_controlunion"},
    }[role]
    response = await send(client, route, world.a, headers_for(role, **scope))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "role_required"


@pytest.mark.parametrize("path", ["/api/v1/cooperatives", "/api/v1/cooperatives/{coop}"])
async def test_public_cooperative_reads_need_no_token_and_hide_dni_and_geometry(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    response = await client.get(path.format(coop=world.a.coop_id))
    assert response.status_code == 200, response.text
    text = response.text
    assert world.a.coop_id in text
    assert world.a.farmer_dni not in text
    assert world.b.farmer_dni not in text
    assert "geometry" not in text
    assert "coordinates" not in text
    for lon, lat in TARAPOTO_POLYGON["coordinates"][0]:
        assert f"{abs(lon):.6f}" not in text
        assert f"{abs(lat):.6f}" not in text
