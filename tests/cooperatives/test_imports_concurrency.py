"""Two imports of the same file at once, and names that differ only in accents and case."""

from __future__ import annotations

import asyncio

import httpx

from services.cooperatives.app import create_app
from tests.conftest import make_settings
from tests.cooperatives.test_imports import FARMER_HEADER, csv_bytes, farmer_row, import_farmers, polygon_wkt
from tests.factories import create_cooperative, valid_dni

Headers = dict[str, str]


async def test_a_name_in_capitals_with_accents_is_the_same_member_without_dni(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    first = csv_bytes(FARMER_HEADER, [farmer_row("JOSÉ PÉREZ", plot="Uno")])
    assert (await import_farmers(client, admin_headers, coop["id"], first)).status_code == 201
    again = csv_bytes(FARMER_HEADER, [farmer_row("José Perez", geometry=polygon_wkt(1), plot="uno")])
    response = await import_farmers(client, admin_headers, coop["id"], again)
    assert response.status_code == 422, response.text
    assert [e["code"] for e in response.json()["errors"]] == ["plot_exists"]
    found = await client.get(f"/api/v1/cooperatives/{coop['id']}/farmers?q=jose perez", headers=admin_headers)
    assert len(found.json()["items"]) == 1


async def test_the_same_file_imported_twice_at_once_is_written_once(
    fresh_database_url: str, signing_key_pem: str, admin_headers: Headers
) -> None:
    app = create_app(make_settings(fresh_database_url, signing_key_pem))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        coop = await create_cooperative(client, admin_headers)
        rows = [
            farmer_row(f"Socio {i}", valid_dni() if i % 2 else "", geometry=polygon_wkt(i)) for i in range(40)
        ]
        body = csv_bytes(FARMER_HEADER, rows)
        answers = await asyncio.gather(
            *(import_farmers(client, admin_headers, coop["id"], body) for _ in range(2))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 422], [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 422)
        assert {e["code"] for e in refused.json()["errors"]} == {"plot_exists"}
        listed = await client.get(
            f"/api/v1/cooperatives/{coop['id']}/farmers?limit=500", headers=admin_headers
        )
        assert len(listed.json()["items"]) == 40
