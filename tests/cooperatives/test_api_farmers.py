from __future__ import annotations

from datetime import date, timedelta

import httpx

from tests.factories import create_cooperative, create_farmer, valid_dni


async def test_farmers_can_be_searched_by_part_of_the_name_ignoring_case(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    juana = await create_farmer(client, admin_headers, coop["id"], name="Juana Sangama Pinedo")
    await create_farmer(client, admin_headers, coop["id"], name="Wilder Tuanama")
    response = await client.get(f"/api/v1/cooperatives/{coop['id']}/farmers?q=sangama", headers=admin_headers)
    assert response.status_code == 200
    assert [f["id"] for f in response.json()["items"]] == [juana["id"]]


async def test_farmers_can_be_found_by_exact_dni(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rosa = await create_farmer(client, admin_headers, coop["id"], dni=dni)
    await create_farmer(client, admin_headers, coop["id"])
    response = await client.get(f"/api/v1/cooperatives/{coop['id']}/farmers?dni={dni}", headers=admin_headers)
    assert [f["id"] for f in response.json()["items"]] == [rosa["id"]]


async def test_a_join_date_in_the_future_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = await client.post(
        f"/api/v1/cooperatives/{coop['id']}/farmers",
        json={"name": "Ana", "joined_on": tomorrow, "public_name_consent": True},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "joined_on"
    assert response.json()["errors"][0]["code"] == "date_in_future"


async def test_name_consent_must_be_stated_explicitly(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    response = await client.post(
        f"/api/v1/cooperatives/{coop['id']}/farmers", json={"name": "Ana"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "public_name_consent"
