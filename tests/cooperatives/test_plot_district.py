"""A plot says which district it lies in: the ubigeo it was registered with, or one derived from it.

Derived means the district whose named populated place is nearest to the plot's centroid. The
factory's Tarapoto polygon lies 1.4 km from Tarapoto's place and 10.8 km from the next one (Juan
Guerra), so it is Tarapoto (220901). La Banda de Shilcayo (220909), Tarapoto's eastern neighbour,
has no named place in the reference data: only an explicit ubigeo can give it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.cooperatives.models import SERVICE
from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.cooperatives.test_imports import (
    BATCH_ROWS,
    FARMER_HEADER,
    csv_bytes,
    error_triples,
    farmer_row,
    farmers_of,
    import_farmers,
    plots_of,
    polygon_wkt,
)
from tests.factories import TARAPOTO_POLYGON, create_cooperative, create_farmer, create_plot, valid_dni

Headers = dict[str, str]
TARAPOTO = ("220901", "San Martín", "San Martín", "Tarapoto")
BANDA_DE_SHILCAYO = ("220909", "San Martín", "San Martín", "La Banda de Shilcayo")
# 2.3 km from Moyobamba's place, the capital of San Martín's other coffee valley.
MOYOBAMBA_POINT = {"type": "Point", "coordinates": [-76.971234, -6.031234]}
MOYOBAMBA = ("220101", "San Martín", "Moyobamba", "Moyobamba")


@pytest.fixture
def settings(database_url: str, signing_key_pem: str) -> Settings:
    # Imports write in batches of two rows here, so districts are derived batch after batch.
    return make_settings(database_url, signing_key_pem, import_batch_rows=BATCH_ROWS)


def place(plot: dict[str, Any]) -> tuple[str, str, str, str]:
    return plot["ubigeo"], plot["region"], plot["province"], plot["district"]


async def new_farmer(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    cooperative = await create_cooperative(client, headers)
    return await create_farmer(client, headers, cooperative["id"])


# registering one plot


async def test_a_plot_without_ubigeo_is_in_the_district_whose_place_is_nearest(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    farmer = await new_farmer(client, admin_headers)
    plot = await create_plot(client, admin_headers, farmer["id"], geometry=TARAPOTO_POLYGON)
    assert place(plot) == TARAPOTO


async def test_a_point_plot_gets_its_district_from_its_position(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    farmer = await new_farmer(client, admin_headers)
    plot = await create_plot(client, admin_headers, farmer["id"], geometry=MOYOBAMBA_POINT, area_ha=1.5)
    assert place(plot) == MOYOBAMBA


async def test_an_explicit_ubigeo_is_kept_over_the_derived_one(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    farmer = await new_farmer(client, admin_headers)
    plot = await create_plot(
        client, admin_headers, farmer["id"], geometry=TARAPOTO_POLYGON, ubigeo=BANDA_DE_SHILCAYO[0]
    )
    assert place(plot) == BANDA_DE_SHILCAYO
    read = await client.get(f"/api/v1/plots/{plot['id']}", headers=admin_headers)
    assert place(read.json()) == BANDA_DE_SHILCAYO


@pytest.mark.parametrize(
    ("ubigeo", "code"), [("229999", "ubigeo_unknown"), ("22090", "ubigeo_format"), ("", "ubigeo_format")]
)
async def test_a_bad_ubigeo_is_a_422_naming_the_field_and_registers_nothing(
    client: httpx.AsyncClient, admin_headers: Headers, ubigeo: str, code: str
) -> None:
    farmer = await new_farmer(client, admin_headers)
    response = await client.post(
        f"/api/v1/farmers/{farmer['id']}/plots",
        json={"name": "Parcela", "crop": "cacao", "geometry": TARAPOTO_POLYGON, "ubigeo": ubigeo},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["errors"][0]["field"], problem["errors"][0]["code"]) == (
        code,
        "ubigeo",
        code,
    )
    assert await plots_of(client, admin_headers, farmer["id"]) == []


async def test_listed_plots_carry_their_district(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    farmer = await new_farmer(client, admin_headers)
    await create_plot(client, admin_headers, farmer["id"], name="Derivada")
    await create_plot(client, admin_headers, farmer["id"], name="Dada", ubigeo=BANDA_DE_SHILCAYO[0])
    response = await client.get(f"/api/v1/farmers/{farmer['id']}/plots", headers=admin_headers)
    by_name = {p["name"]: place(p) for p in response.json()["items"]}
    assert by_name == {"Derivada": TARAPOTO, "Dada": BANDA_DE_SHILCAYO}


# the farmers import


async def test_an_import_without_the_ubigeo_column_derives_every_district(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [farmer_row("Rosa Sangama", dni, plot=f"Parcela {n}") for n in range(3)]  # two batches
    response = await import_farmers(client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER, rows))
    assert response.status_code == 201, response.text
    [farmer] = await farmers_of(client, admin_headers, coop["id"])
    assert [place(p) for p in await plots_of(client, admin_headers, farmer["id"])] == [TARAPOTO] * 3


async def test_an_import_keeps_a_given_ubigeo_and_derives_a_blank_one(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    dni = valid_dni()
    rows = [
        farmer_row("Rosa Sangama", dni, plot="Dada") + f",{BANDA_DE_SHILCAYO[0]}",
        farmer_row("Rosa Sangama", dni, plot="En blanco") + ",",
    ]
    response = await import_farmers(
        client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER + ",ubigeo", rows)
    )
    assert response.status_code == 201, response.text
    [farmer] = await farmers_of(client, admin_headers, coop["id"])
    by_name = {p["name"]: place(p) for p in await plots_of(client, admin_headers, farmer["id"])}
    assert by_name == {"Dada": BANDA_DE_SHILCAYO, "En blanco": TARAPOTO}


async def test_an_import_reports_an_unknown_ubigeo_on_its_line_and_imports_nothing(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    coop = await create_cooperative(client, admin_headers)
    rows = [
        farmer_row("Juan Tuanama", valid_dni(), geometry=polygon_wkt(0)) + ",220901",
        farmer_row("Luz Panduro", valid_dni(), geometry=polygon_wkt(1)) + ",229999",
        farmer_row("Elena Pinedo", valid_dni(), geometry=polygon_wkt(2)) + ",2209",
    ]
    response = await import_farmers(
        client, admin_headers, coop["id"], csv_bytes(FARMER_HEADER + ",ubigeo", rows)
    )
    assert response.status_code == 422, response.text
    assert error_triples(response) == [(3, "ubigeo", "ubigeo_unknown"), (4, "ubigeo", "ubigeo_format")]
    assert await farmers_of(client, admin_headers, coop["id"]) == []


# the migration that added the column


@pytest.fixture
async def database_at_0001(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own whose registry is migrated only up to revision 0001."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'at-0001.db'}" if backend == "sqlite" else create_pg_database()
    try:
        await upgrade_to_head(SERVICE, url, "0001")
        yield url
    finally:
        if backend != "sqlite":
            drop_pg_database(url)


def plot_rows(count: int) -> list[dict[str, Any]]:
    """``count`` plots registered before 0002: one at Moyobamba, the rest near Tarapoto."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"plot_{n:05d}",
            "name": f"Parcela {n}",
            "lon": -76.359614 + (n % 50) * 0.0001,
            "lat": -6.489937,
            "now": now,
        }
        for n in range(count)
    ]
    rows[0].update(lon=-76.971234, lat=-6.031234)
    return rows


async def test_upgrading_from_0001_gives_every_registered_plot_its_derived_district(
    database_at_0001: str,
) -> None:
    # More plots than the migration derives per round (1,000), so the rounds join up.
    plots = plot_rows(1_203)
    engine = create_engine(database_at_0001)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO cooperatives (id, name, ruc, kind, ubigeo, region, province, district, "
                    "products, search_text, created_at, updated_at) VALUES ('coop_1', 'Coop', "
                    "'20100070970', 'cooperative', '220901', 'San Martín', 'San Martín', 'Tarapoto', "
                    "'[\"cacao\"]', 'coop 20100070970', :now, :now)"
                ),
                {"now": plots[0]["now"]},
            )
            await connection.execute(
                text(
                    "INSERT INTO farmers (id, cooperative_id, name, name_key, public_name_consent, "
                    "created_at) VALUES ('farm_1', 'coop_1', 'Rosa', 'rosa', false, :now)"
                ),
                {"now": plots[0]["now"]},
            )
            await connection.execute(
                text(
                    "INSERT INTO plots (id, farmer_id, cooperative_id, name, crop, geometry_type, "
                    "geometry, area_ha, centroid_lon, centroid_lat, created_at) VALUES (:id, 'farm_1', "
                    "'coop_1', :name, 'cacao', 'Point', '{}', 1, :lon, :lat, :now)"
                ),
                plots,
            )
        await upgrade_to_head(SERVICE, database_at_0001)
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT id, ubigeo FROM plots"))
            found = {row.id: row.ubigeo for row in result}
    finally:
        await engine.dispose()
    assert len(found) == len(plots)
    assert found.pop("plot_00000") == MOYOBAMBA[0]
    assert set(found.values()) == {TARAPOTO[0]}
