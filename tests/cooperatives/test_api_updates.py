from __future__ import annotations

import httpx
import pytest

from tests.factories import create_cooperative


@pytest.mark.parametrize("field", ["name", "kind", "ubigeo", "products"])
async def test_patch_refuses_null_for_a_required_field_and_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    coop = await create_cooperative(client, admin_headers)
    response = await client.patch(
        f"/api/v1/cooperatives/{coop['id']}", json={field: None}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "not_nullable"
    after = (await client.get(f"/api/v1/cooperatives/{coop['id']}")).json()
    assert after[field] == coop[field]


async def test_patch_with_null_clears_an_optional_gs1_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers, gs1_company_prefix="7750123")
    response = await client.patch(
        f"/api/v1/cooperatives/{coop['id']}", json={"gs1_company_prefix": None}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["gs1_company_prefix"] is None


async def test_usernames_are_case_insensitive_at_login(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"username": "Rosa.Exporta", "password": "una-clave-larga", "role": "exporter"},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "rosa.exporta"
    login = await client.post(
        "/api/v1/auth/token", data={"username": "ROSA.exporta", "password": "una-clave-larga"}
    )
    assert login.status_code == 200, login.text
    again = await client.post(
        "/api/v1/users",
        json={"username": "rosa.EXPORTA", "password": "una-clave-larga", "role": "exporter"},
        headers=admin_headers,
    )
    assert again.status_code == 409
