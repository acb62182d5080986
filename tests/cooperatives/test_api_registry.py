"""The registry and identity API (API.md "Identity", "Registry"): validation, filters, pages, login."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from stdnum import ean
from stdnum.pe import ruc as stdnum_ruc

from shared.auth import Role
from tests.factories import cooperative_body, create_cooperative, create_farmer, valid_dni, valid_ruc

HeadersFor = Callable[..., dict[str, str]]
HUANUCO_UBIGEO = "100101"  # Huánuco, Huánuco, Huánuco
PASSWORD = "clave-de-prueba-123"


def with_check_digit(body: str) -> str:
    return body + ean.calc_check_digit(body)


def wrong_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


async def post_cooperative(
    client: httpx.AsyncClient, admin_headers: dict[str, str], **overrides: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/cooperatives", json=cooperative_body(**overrides), headers=admin_headers
    )


def first_error(response: httpx.Response) -> tuple[str, str]:
    """(problem code, field of the first error) of a 422."""
    assert response.status_code == 422, response.text
    problem = response.json()
    return problem["code"], problem["errors"][0]["field"]


async def listed_ids(client: httpx.AsyncClient, **params: str) -> set[str]:
    response = await client.get("/api/v1/cooperatives", params=params)
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["items"]}


# cooperatives: creation


async def test_creating_a_cooperative_answers_201_with_places_from_ubigeo(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await post_cooperative(client, admin_headers, ubigeo="220901")
    assert response.status_code == 201, response.text
    coop = response.json()
    assert coop["id"]
    assert (coop["region"], coop["province"], coop["district"]) == ("San Martín", "San Martín", "Tarapoto")


async def test_ruc_with_wrong_check_digit_is_ruc_invalid(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await post_cooperative(client, admin_headers, ruc=wrong_check_digit(valid_ruc()))
    assert first_error(response) == ("ruc_invalid", "ruc")


async def test_natural_person_ruc_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = "1044556677"
    response = await post_cooperative(client, admin_headers, ruc=body + stdnum_ruc.calc_check_digit(body))
    assert first_error(response) == ("ruc_not_legal_entity", "ruc")


async def test_duplicate_ruc_is_409_and_registers_only_one_cooperative(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ruc = valid_ruc()
    await create_cooperative(client, admin_headers, ruc=ruc)
    response = await post_cooperative(client, admin_headers, ruc=ruc)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "ruc_taken"
    assert len(await listed_ids(client, q=ruc)) == 1


async def test_unknown_ubigeo_is_refused(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await post_cooperative(client, admin_headers, ubigeo="229999")
    assert first_error(response) == ("ubigeo_unknown", "ubigeo")


async def test_gtin_with_wrong_check_digit_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    gtin = wrong_check_digit(with_check_digit("775123400001"))
    response = await post_cooperative(client, admin_headers, gtins={"cacao": gtin})
    assert first_error(response) == ("gtin_invalid", "gtins.cacao")


async def test_gtin_outside_the_company_prefix_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await post_cooperative(
        client,
        admin_headers,
        gs1_company_prefix="7751234",
        gtins={"coffee": with_check_digit("775999900001")},
    )
    assert first_error(response) == ("gtin_prefix_mismatch", "gtins.coffee")


async def test_valid_gs1_setup_is_stored_with_gtins_padded_to_14_digits(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    cacao, coffee = with_check_digit("775123400001"), with_check_digit("775123400002")
    response = await post_cooperative(
        client,
        admin_headers,
        gs1_company_prefix="7751234",
        gln=with_check_digit("775123400000"),
        gtins={"cacao": cacao, "coffee": coffee},
    )
    assert response.status_code == 201, response.text
    assert response.json()["gtins"] == {"cacao": "0" + cacao, "coffee": "0" + coffee}


async def test_unknown_field_is_refused(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await post_cooperative(client, admin_headers, color="verde")
    assert first_error(response) == ("validation_failed", "color")


# cooperatives: listing


@pytest.fixture
async def two_coops(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> tuple[str, str]:
    """(id of a coffee cooperative in San Martín, id of a cacao cooperative in Huánuco)."""
    coffee = await create_cooperative(
        client,
        admin_headers,
        name="Asociación de Productores Cafetaleros Alto Mayo",
        products=["coffee"],
        ubigeo="220901",
    )
    cacao = await create_cooperative(
        client,
        admin_headers,
        name="Cooperativa Agraria Cacaotera Tingo María",
        products=["cacao"],
        ubigeo=HUANUCO_UBIGEO,
    )
    return coffee["id"], cacao["id"]


async def test_listing_by_product_keeps_only_that_product(
    client: httpx.AsyncClient, two_coops: tuple[str, str]
) -> None:
    coffee, cacao = two_coops
    ids = await listed_ids(client, product="coffee")
    assert coffee in ids
    assert cacao not in ids


@pytest.mark.parametrize("region", ["San Martín", "22", "san martin", "SAN MARTIN"])
async def test_listing_by_region_accepts_name_code_or_unaccented_name(
    client: httpx.AsyncClient, two_coops: tuple[str, str], region: str
) -> None:
    coffee, cacao = two_coops
    ids = await listed_ids(client, region=region)
    assert coffee in ids
    assert cacao not in ids


async def test_listing_by_unknown_region_is_region_unknown(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/cooperatives", params={"region": "Atlántida"})
    assert first_error(response) == ("region_unknown", "region")


async def test_search_finds_part_of_the_name_typed_without_accents(
    client: httpx.AsyncClient, two_coops: tuple[str, str]
) -> None:
    coffee, cacao = two_coops
    ids = await listed_ids(client, q="asociacion de productores")
    assert coffee in ids
    assert cacao not in ids


async def test_cursor_pages_walk_every_cooperative_exactly_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = {(await create_cooperative(client, admin_headers))["id"] for _ in range(5)}
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    for _ in range(20):
        response = await client.get("/api/v1/cooperatives", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        if page["next"] is None:
            break
        params = {"limit": 2, "cursor": page["next"]}
    assert len(seen) == len(set(seen))
    assert created <= set(seen)
    everything = await client.get("/api/v1/cooperatives", params={"limit": 500})
    assert set(seen) == {c["id"] for c in everything.json()["items"]}


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!!",
        _b64("hola"),
        _b64([1]),
        _b64(["ayer", "coop_x"]),
        _b64(["2024-05-01T10:00:00", "coop_x"]),
        _b64([1, 2]),
    ],
    ids=["not-base64", "not-a-list", "wrong-arity", "not-a-date", "naive-date", "wrong-types"],
)
async def test_garbage_cursor_is_invalid_cursor(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cursor: str
) -> None:
    await create_cooperative(client, admin_headers)
    response = await client.get("/api/v1/cooperatives", params={"cursor": cursor})
    assert first_error(response) == ("invalid_cursor", "cursor")


# cooperatives: changes


async def test_patch_changes_name_and_recomputes_places_from_new_ubigeo(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers, ubigeo="220901")
    response = await client.patch(
        f"/api/v1/cooperatives/{coop['id']}",
        json={"name": "Cooperativa Tingo María", "ubigeo": HUANUCO_UBIGEO},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    stored = (await client.get(f"/api/v1/cooperatives/{coop['id']}")).json()
    assert (stored["name"], stored["ubigeo"]) == ("Cooperativa Tingo María", HUANUCO_UBIGEO)
    assert [stored[k] for k in ("region", "province", "district")] == ["Huánuco"] * 3


async def test_manager_can_patch_their_own_cooperative(
    client: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    coop = await create_cooperative(client, admin_headers)
    manager = headers_for(Role.MANAGER, cooperative_id=coop["id"])
    response = await client.patch(
        f"/api/v1/cooperatives/{coop['id']}", json={"name": "Nuevo nombre"}, headers=manager
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/api/v1/cooperatives/{coop['id']}")).json()["name"] == "Nuevo nombre"


# farmers


async def test_farmer_with_invalid_dni_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    response = await client.post(
        f"/api/v1/cooperatives/{coop['id']}/farmers",
        json={"name": "Ana", "dni": "1234", "public_name_consent": False},
        headers=admin_headers,
    )
    assert first_error(response) == ("dni_invalid", "dni")


async def test_same_dni_twice_in_one_cooperative_is_dni_taken(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    await create_farmer(client, admin_headers, coop["id"], dni=dni)
    response = await client.post(
        f"/api/v1/cooperatives/{coop['id']}/farmers",
        json={"name": "Otra", "dni": dni, "public_name_consent": False},
        headers=admin_headers,
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "dni_taken"


async def test_same_dni_may_belong_to_farmers_of_two_cooperatives(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await create_cooperative(client, admin_headers)
    second = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    await create_farmer(client, admin_headers, first["id"], dni=dni)
    farmer = await create_farmer(client, admin_headers, second["id"], dni=dni)
    assert farmer["dni"] == dni


# users and login


async def post_user(client: httpx.AsyncClient, admin_headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/v1/users", json={"password": PASSWORD, **body}, headers=admin_headers)


async def test_admin_creates_a_manager_of_an_existing_cooperative(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    response = await post_user(
        client, admin_headers, username="gerente.alto", role="manager", cooperative_id=coop["id"]
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["role"], user["cooperative_id"]) == ("manager", coop["id"])
    assert PASSWORD not in response.text
    assert "password" not in user


@pytest.mark.parametrize(
    ("cooperative_id", "code"),
    [(None, "required_for_role"), ("coop_doesnotexist", "unknown_cooperative")],
)
async def test_manager_without_an_existing_cooperative_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cooperative_id: str | None, code: str
) -> None:
    response = await post_user(
        client, admin_headers, username="gerente.sin.coop", role="manager", cooperative_id=cooperative_id
    )
    assert first_error(response) == (code, "cooperative_id")


async def test_certifier_without_certifying_body_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await post_user(client, admin_headers, username="auditor", role="certifier")
    assert first_error(response) == ("required_for_role", "certifying_body_id")


async def test_certifier_with_certifying_body_is_created(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await post_user(
        client, admin_headers, username="auditor", role="certifier", certifying_body_id="cb_controlunion"
    )
    assert response.status_code == 201, response.text
    assert response.json()["certifying_body_id"] == "cb_controlunion"


async def test_duplicate_username_is_username_taken(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await post_user(client, admin_headers, username="exportador", role="exporter")).status_code == 201
    response = await post_user(client, admin_headers, username="exportador", role="exporter")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "username_taken"


@pytest.fixture
async def manager(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    coop = await create_cooperative(client, admin_headers)
    response = await post_user(
        client, admin_headers, username="gerente.login", role="manager", cooperative_id=coop["id"]
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_login_returns_a_bearer_token(client: httpx.AsyncClient, manager: dict[str, Any]) -> None:
    response = await login(client, "gerente.login", PASSWORD)
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["access_token"]
    assert token["token_type"] == "bearer"
    assert isinstance(token["expires_in"], int) and token["expires_in"] > 0


async def test_login_token_identifies_the_user_on_users_me(
    client: httpx.AsyncClient, manager: dict[str, Any]
) -> None:
    token = (await login(client, "gerente.login", PASSWORD)).json()["access_token"]
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["id"], me["username"], me["role"], me["cooperative_id"]) == (
        manager["id"],
        "gerente.login",
        "manager",
        manager["cooperative_id"],
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [("gerente.login", "clave-equivocada-99"), ("nadie.registrado", PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
async def test_wrong_credentials_are_401_invalid_credentials(
    client: httpx.AsyncClient, manager: dict[str, Any], username: str, password: str
) -> None:
    response = await login(client, username, password)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_credentials"
    assert "access_token" not in response.json()
