"""CSV imports through the API (API.md, Registry): every bad row reported, all or nothing.

The app here writes in batches of two rows, so a file whose first bad row comes after several good
ones has already sent INSERTs to the database when the error is found: the rollback is what keeps
the registry clean, not a check made before writing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from shared.auth import Role
from shared.settings import Settings
from tests.conftest import make_settings
from tests.factories import create_cooperative, create_farmer, valid_dni, valid_ruc

COOPERATIVE_HEADER = "name,ruc,kind,ubigeo,products,gs1_company_prefix,gln"
FARMER_HEADER = (
    "farmer_name,dni,gender,joined_on,public_name_consent,plot_name,crop,geometry,area_ha,altitude_m,"
    "organic_since"
)
BATCH_ROWS = 2
# tests.factories.TARAPOTO_POLYGON's ring: about 1 ha near Tarapoto, San Martín.
TARAPOTO_RING = [
    (-76.360123, -6.490456),
    (-76.359087, -6.490433),
    (-76.359102, -6.489421),
    (-76.360141, -6.489437),
    (-76.360123, -6.490456),
]
Headers = dict[str, str]


@pytest.fixture
def settings(database_url: str, signing_key_pem: str) -> Settings:
    return make_settings(database_url, signing_key_pem, import_batch_rows=BATCH_ROWS)


def csv_bytes(header: str, rows: Sequence[str]) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def cooperative_row(name: str, ruc: str, *, kind: str = "cooperative", ubigeo: str = "220901") -> str:
    return f"{name},{ruc},{kind},{ubigeo},cacao;coffee,,"


def polygon_wkt(shift: int = 0, *, decimals: int = 6) -> str:
    """The Tarapoto plot moved ``shift`` times 0.002° east, written with ``decimals`` digits."""
    points = ", ".join(f"{lon + shift * 0.002:.{decimals}f} {lat:.{decimals}f}" for lon, lat in TARAPOTO_RING)
    return f'"POLYGON (({points}))"'


def farmer_row(name: str, dni: str = "", *, geometry: str | None = None, plot: str = "Parcela") -> str:
    return f"{name},{dni},female,2019-03-01,true,{plot},cacao,{geometry or polygon_wkt()},,450,"


async def import_cooperatives(
    client: httpx.AsyncClient, headers: Headers, body: bytes, *, dry_run: bool = False
) -> httpx.Response:
    return await client.post(
        "/api/v1/cooperatives/import",
        params={"dry_run": "true"} if dry_run else None,
        files={"file": ("cooperativas.csv", body, "text/csv")},
        headers=headers,
    )


async def import_farmers(
    client: httpx.AsyncClient, headers: Headers, cooperative_id: str, body: bytes, *, dry_run: bool = False
) -> httpx.Response:
    return await client.post(
        f"/api/v1/cooperatives/{cooperative_id}/farmers/import",
        params={"dry_run": "true"} if dry_run else None,
        files={"file": ("socios.csv", body, "text/csv")},
        headers=headers,
    )


async def rucs_listed(client: httpx.AsyncClient, rucs: Sequence[str]) -> list[str]:
    found = []
    for ruc in rucs:
        response = await client.get("/api/v1/cooperatives", params={"q": ruc})
        found += [c["ruc"] for c in response.json()["items"]]
    return found


async def farmers_of(
    client: httpx.AsyncClient, headers: Headers, cooperative_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/cooperatives/{cooperative_id}/farmers", params={"limit": 500}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def plots_of(client: httpx.AsyncClient, headers: Headers, farmer_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/plots", params={"farmer_id": farmer_id}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def error_triples(response: httpx.Response) -> list[tuple[int, str | None, str]]:
    return sorted((e["line"], e["column"], e["code"]) for e in response.json()["errors"])


# cooperatives


async def test_valid_cooperatives_file_creates_every_row(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    rucs = [valid_ruc() for _ in range(5)]
    body = csv_bytes(COOPERATIVE_HEADER, [cooperative_row(f"Coop {r}", r) for r in rucs])
    response = await import_cooperatives(client, admin_headers, body)
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 5, "rows": 5, "dry_run": False, "errors": []}
    assert sorted(await rucs_listed(client, rucs)) == sorted(rucs)


async def test_imported_cooperative_gets_its_district_and_products(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    ruc = valid_ruc()
    name = f"Cooperativa Agraria {uuid.uuid4().hex[:6]}"
    body = csv_bytes(COOPERATIVE_HEADER, [f"{name},{ruc},association,220901,coffee;cacao;coffee,,"])
    assert (await import_cooperatives(client, admin_headers, body)).status_code == 201
    listed = (await client.get("/api/v1/cooperatives", params={"q": ruc})).json()["items"]
    assert [(c["name"], c["kind"], c["region"], c["district"], c["products"]) for c in listed] == [
        (name, "association", "San Martín", "Tarapoto", ["cacao", "coffee"])
    ]


async def test_file_with_a_byte_order_mark_is_imported(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    ruc = valid_ruc()
    body = b"\xef\xbb\xbf" + csv_bytes(COOPERATIVE_HEADER, [cooperative_row("Coop BOM", ruc)])
    response = await import_cooperatives(client, admin_headers, body)
    assert response.status_code == 201, response.text
    assert await rucs_listed(client, [ruc]) == [ruc]


async def test_dry_run_validates_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    rucs = [valid_ruc() for _ in range(3)]
    body = csv_bytes(COOPERATIVE_HEADER, [cooperative_row(f"Coop {r}", r) for r in rucs])
    response = await import_cooperatives(client, admin_headers, body, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 0
    assert response.json()["rows"] == 3
    assert response.json()["dry_run"] is True
    assert await rucs_listed(client, rucs) == []


async def test_every_bad_row_is_reported_and_nothing_is_written(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    registered = (await create_cooperative(client, admin_headers))["ruc"]
    good = [valid_ruc() for _ in range(2 * BATCH_ROWS + 1)]
    rows = [cooperative_row(f"Coop {r}", r) for r in good[:-1]]  # lines 2-5: two full batches
    rows += [
        cooperative_row("RUC con dígito malo", good[0][:-1] + str((int(good[0][-1]) + 1) % 10)),  # 6
        cooperative_row("Ubigeo inexistente", valid_ruc(), ubigeo="999999"),  # 7
        cooperative_row("Tipo raro", valid_ruc(), kind="federation"),  # 8
        cooperative_row("Repetida", good[1]),  # 9: same RUC as line 3
        cooperative_row("Ya registrada", registered),  # 10
        cooperative_row(f"Coop {good[-1]}", good[-1]),  # 11: good again
    ]
    response = await import_cooperatives(client, admin_headers, csv_bytes(COOPERATIVE_HEADER, rows))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "import_invalid"
    assert response.json()["created"] == 0
    assert response.json()["rows"] == 10
    assert error_triples(response) == [
        (6, "ruc", "ruc_invalid"),
        (7, "ubigeo", "ubigeo_unknown"),
        (8, "kind", "enum"),
        (9, "ruc", "ruc_duplicate_in_file"),
        (10, "ruc", "ruc_taken"),
    ]
    assert await rucs_listed(client, good) == []


async def test_dry_run_reports_bad_rows_too(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    rows = [cooperative_row("Buena", valid_ruc()), cooperative_row("Mala", "20123456789")]
    response = await import_cooperatives(
        client, admin_headers, csv_bytes(COOPERATIVE_HEADER, rows), dry_run=True
    )
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(3, "ruc", "ruc_invalid")]


async def test_missing_column_is_reported_on_line_1(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    body = csv_bytes("name,ruc,kind,products", [f"Coop,{valid_ruc()},cooperative,cacao"])
    response = await import_cooperatives(client, admin_headers, body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "import_invalid"
    assert error_triples(response) == [(1, "ubigeo", "missing_column")]


async def test_unknown_column_is_reported_on_line_1(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    ruc = valid_ruc()
    body = csv_bytes(COOPERATIVE_HEADER + ",email", [cooperative_row("Coop", ruc) + ",a@b.pe"])
    response = await import_cooperatives(client, admin_headers, body)
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(1, "email", "unknown_column")]
    assert await rucs_listed(client, [ruc]) == []


async def test_unquoted_cell_with_commas_is_too_many_fields_on_its_line(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    rows = [cooperative_row("Buena", valid_ruc()), cooperative_row("Agraria, Industrial", valid_ruc())]
    response = await import_cooperatives(client, admin_headers, csv_bytes(COOPERATIVE_HEADER, rows))
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(3, None, "too_many_fields")]


async def test_file_that_is_not_utf8_is_refused(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    body = csv_bytes(COOPERATIVE_HEADER, [cooperative_row("Asociación", valid_ruc())]).decode()
    response = await import_cooperatives(client, admin_headers, body.encode("cp1252"))
    assert response.status_code == 422, response.text
    assert [e["code"] for e in response.json()["errors"]] == ["encoding"]


async def test_manager_cannot_import_cooperatives(
    client: httpx.AsyncClient, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    ruc = valid_ruc()
    manager = headers_for(Role.MANAGER, cooperative_id=coop["id"])
    response = await import_cooperatives(
        client, manager, csv_bytes(COOPERATIVE_HEADER, [cooperative_row("C", ruc)])
    )
    assert response.status_code == 403, response.text
    assert await rucs_listed(client, [ruc]) == []


# farmers with plots


async def test_rows_with_the_same_dni_are_one_farmer_with_two_plots(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [
        farmer_row("Rosa Huamán", dni, plot="Alta"),
        farmer_row("Rosa Huamán", dni, geometry=polygon_wkt(1)),
    ]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 1, "rows": 2, "dry_run": False, "plots_created": 2, "errors": []}
    farmers = await farmers_of(client, admin_headers, coop["id"])
    assert [(f["name"], f["dni"]) for f in farmers] == [("Rosa Huamán", dni)]
    assert len(await plots_of(client, admin_headers, farmers[0]["id"])) == 2


async def test_rows_without_dni_and_the_same_name_are_one_farmer(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    rows = [farmer_row("Juan Tapullima"), farmer_row("Juan Tapullima", geometry=polygon_wkt(1), plot="Baja")]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 201, response.text
    farmers = await farmers_of(client, admin_headers, coop["id"])
    assert [(f["name"], f["dni"]) for f in farmers] == [("Juan Tapullima", None)]


async def test_plots_are_counted_across_farmers_and_batches(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dnis = [valid_dni(), valid_dni()]
    rows = [
        farmer_row(f"Socio {i % 2}", dnis[i % 2], geometry=polygon_wkt(i), plot=f"Parcela {i}")
        for i in range(5)
    ]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["plots_created"]) == (2, 5)
    farmers = await farmers_of(client, admin_headers, coop["id"])
    assert sorted([len(await plots_of(client, admin_headers, f["id"])) for f in farmers]) == [2, 3]


async def test_geojson_geometry_is_accepted(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    coop = await create_cooperative(client, admin_headers)
    point = (
        '"' + json.dumps({"type": "Point", "coordinates": [-76.365123, -6.487456]}).replace('"', '""') + '"'
    )
    row = f"Ana Pinedo,{valid_dni()},f,,si,Chacra,coffee,{point},2.5,,2020-01-01"
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, [row]))
    assert response.status_code == 201, response.text
    farmer = (await farmers_of(client, admin_headers, coop["id"]))[0]
    [plot] = await plots_of(client, admin_headers, farmer["id"])
    assert (plot["geometry"]["type"], plot["crop"], plot["organic_since"]) == (
        "Point",
        "coffee",
        "2020-01-01",
    )


@pytest.mark.parametrize(
    ("geometry", "code"),
    [
        (polygon_wkt(decimals=3), "coordinate_precision"),
        ('"POINT (-74.072092 4.710989)"', "outside_peru"),
        ('"{""type"": ""Point"", ""coordinates"": [-76.365123]}"', "geometry_malformed"),
        (
            '"POLYGON ((-76.360123 -6.490456, -76.359087 -6.490433, -76.359102 -6.489421))"',
            "polygon_too_few_positions",
        ),
    ],
)
async def test_bad_geometry_is_reported_on_its_line_with_its_rule(
    client: httpx.AsyncClient, admin_headers: Headers, geometry: str, code: str
) -> None:
    coop = await create_cooperative(client, admin_headers)
    rows = [farmer_row(f"Socio {i}", valid_dni(), geometry=polygon_wkt(i)) for i in range(3)]
    rows.append(farmer_row("Mal Ubicado", valid_dni(), geometry=geometry).replace(",,450", ",2,450"))
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(5, "geometry", code)]


async def test_a_dni_named_differently_is_farmer_inconsistent(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [farmer_row("Luz Sangama", dni), farmer_row("Pedro Sangama", dni, geometry=polygon_wkt(1))]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(3, "farmer_name", "farmer_inconsistent")]


async def test_bad_farmer_row_after_full_batches_writes_nothing(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    rows = [farmer_row(f"Socio {i}", valid_dni(), geometry=polygon_wkt(i)) for i in range(2 * BATCH_ROWS + 1)]
    rows.append(farmer_row("Sin DNI válido", "1234"))
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(2 * BATCH_ROWS + 3, "dni", "dni_invalid")]
    assert await farmers_of(client, admin_headers, coop["id"]) == []


async def test_plots_for_a_registered_dni_join_that_farmer(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    farmer = await create_farmer(client, admin_headers, coop["id"], name="Elena Ríos")
    rows = [
        farmer_row("Elena Ríos", farmer["dni"], geometry=polygon_wkt(i), plot=f"Parcela {i}")
        for i in range(3)
    ]
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 201, response.text
    assert (response.json()["created"], response.json()["plots_created"]) == (0, 3)
    assert [f["id"] for f in await farmers_of(client, admin_headers, coop["id"])] == [farmer["id"]]
    assert len(await plots_of(client, admin_headers, farmer["id"])) == 3


async def test_manager_of_the_cooperative_can_import_its_farmers(
    client: httpx.AsyncClient, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    manager = headers_for(Role.MANAGER, cooperative_id=coop["id"])
    response = await import_farmers(
        client, manager, coop["id"], csv_bytes(FARMER_HEADER, [farmer_row("Socia")])
    )
    assert response.status_code == 201, response.text


async def test_manager_of_another_cooperative_gets_404(
    client: httpx.AsyncClient, admin_headers: Headers, headers_for: Callable[..., Headers]
) -> None:
    coop = await create_cooperative(client, admin_headers)
    other = await create_cooperative(client, admin_headers)
    manager = headers_for(Role.MANAGER, cooperative_id=other["id"])
    response = await import_farmers(
        client, manager, coop["id"], csv_bytes(FARMER_HEADER, [farmer_row("Socia")])
    )
    assert response.status_code == 404, response.text
    assert await farmers_of(client, admin_headers, coop["id"]) == []


async def test_a_non_utf8_byte_is_reported_on_its_own_line(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    rows = [cooperative_row(f"Buena {i}", valid_ruc()) for i in range(300)]
    rows.append(cooperative_row("Asociación", valid_ruc()))
    body = csv_bytes(COOPERATIVE_HEADER, rows).decode().encode("cp1252")
    response = await import_cooperatives(client, admin_headers, body)
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(302, "name", "encoding")]
