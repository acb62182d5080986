"""Farmer imports against what is already registered: a re-sent file never duplicates anyone."""

from __future__ import annotations

import httpx

from tests.cooperatives.test_imports import FARMER_HEADER, csv_bytes, farmer_row, import_farmers, polygon_wkt
from tests.factories import create_cooperative, create_farmer, valid_dni

Headers = dict[str, str]


def codes(response: httpx.Response) -> list[tuple[int, str | None, str]]:
    return sorted((e["line"], e["column"], e["code"]) for e in response.json()["errors"])


async def farmers_of(client: httpx.AsyncClient, headers: Headers, coop_id: str) -> list[dict[str, object]]:
    listed = await client.get(f"/api/v1/cooperatives/{coop_id}/farmers?limit=500", headers=headers)
    items: list[dict[str, object]] = listed.json()["items"]
    return items


async def test_uploading_the_same_file_twice_imports_nothing_the_second_time(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    rows = [
        farmer_row("Marleni Sangama", valid_dni(), plot="Alta"),
        farmer_row("Wilder Panduro", geometry=polygon_wkt(1), plot="Baja"),
    ]
    body = csv_bytes(FARMER_HEADER, rows)
    first = await import_farmers(client, admin_headers, coop["id"], body)
    assert first.status_code == 201, first.text
    second = await import_farmers(client, admin_headers, coop["id"], body)
    assert second.status_code == 422, second.text
    assert codes(second) == [(2, "plot_name", "plot_exists"), (3, "plot_name", "plot_exists")]
    assert len(await farmers_of(client, admin_headers, coop["id"])) == 2


async def test_a_registered_dni_under_another_name_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    juana = await create_farmer(client, admin_headers, coop["id"], name="Juana Pérez Tuanama")
    body = csv_bytes(FARMER_HEADER, [farmer_row("Otra Persona", str(juana["dni"]), plot="Otra")])
    dry = await import_farmers(client, admin_headers, coop["id"], body, dry_run=True)
    assert dry.status_code == 422
    assert codes(dry) == [(2, "farmer_name", "farmer_inconsistent")]
    real = await import_farmers(client, admin_headers, coop["id"], body)
    assert real.status_code == 422
    plots = await client.get(f"/api/v1/farmers/{juana['id']}/plots", headers=admin_headers)
    assert plots.json()["items"] == []


async def test_a_new_plot_of_a_registered_member_without_dni_joins_that_member(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    first = csv_bytes(FARMER_HEADER, [farmer_row("Teófilo Ríos", plot="Uno")])
    assert (await import_farmers(client, admin_headers, coop["id"], first)).status_code == 201
    second = csv_bytes(FARMER_HEADER, [farmer_row("Teófilo Ríos", geometry=polygon_wkt(2), plot="Dos")])
    response = await import_farmers(client, admin_headers, coop["id"], second)
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["plots_created"]) == (0, 1)
    assert len(await farmers_of(client, admin_headers, coop["id"])) == 1


async def test_the_same_plot_name_twice_for_one_farmer_in_a_file_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [
        farmer_row("Rosa Huamán", dni, plot="Alta"),
        farmer_row("Rosa Huamán", dni, geometry=polygon_wkt(1), plot="alta"),
    ]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 422
    assert codes(response) == [(3, "plot_name", "plot_duplicate_in_file")]


async def test_every_problem_of_a_row_is_reported_at_once(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    row = 'Ana Salas,1234567,female,2019-03-01,quizas,Parcela,cafe,"POINT (-68.119312 -16.489721)",1.5,450,'
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, [row]))
    assert response.status_code == 422
    assert codes(response) == [
        (2, "crop", "crop_invalid"),
        (2, "dni", "dni_invalid"),
        (2, "geometry", "outside_peru"),
        (2, "public_name_consent", "bool_invalid"),
    ]


async def test_a_dry_run_says_what_a_real_import_would_write(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [
        farmer_row("Rosa Huamán", dni, plot="Alta"),
        farmer_row("Rosa Huamán", dni, geometry=polygon_wkt(1), plot="Baja"),
        farmer_row("Juan Tapullima", geometry=polygon_wkt(2)),
    ]
    response = await import_farmers(
        client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows), dry_run=True
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["would_create"], body["would_create_plots"]) == (0, 2, 3)
    assert await farmers_of(client, admin_headers, coop["id"]) == []
