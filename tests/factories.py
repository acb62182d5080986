"""Test data: valid identifiers and objects created through the API."""

from __future__ import annotations

import itertools
import random
from typing import Any

import httpx
from stdnum.pe import ruc

_counter = itertools.count(1)
_rng = random.Random(7)

# A 1 ha-ish polygon near Tarapoto, San Martín, with 6 decimals, counter-clockwise, closed.
TARAPOTO_POLYGON = {
    "type": "Polygon",
    "coordinates": [
        [
            [-76.360123, -6.490456],
            [-76.359087, -6.490433],
            [-76.359102, -6.489421],
            [-76.360141, -6.489437],
            [-76.360123, -6.490456],
        ]
    ],
}
TARAPOTO_POINT = {"type": "Point", "coordinates": [-76.365123, -6.487456]}
SAN_MARTIN_UBIGEO = "220901"  # Tarapoto, San Martín, San Martín


def valid_ruc() -> str:
    while True:
        body = "20" + f"{_rng.randrange(10**8):08d}"
        number = body + ruc.calc_check_digit(body)
        return number


def cooperative_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Cooperativa de prueba {next(_counter)}",
        "ruc": valid_ruc(),
        "kind": "cooperative",
        "ubigeo": SAN_MARTIN_UBIGEO,
        "products": ["cacao", "coffee"],
    }
    body.update(overrides)
    return body


async def create_cooperative(
    client: httpx.AsyncClient, admin_headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/cooperatives", json=cooperative_body(**overrides), headers=admin_headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def valid_dni() -> str:
    return f"{_rng.randrange(10**7, 10**8)}"


async def create_farmer(
    client: httpx.AsyncClient, headers: dict[str, str], cooperative_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Agricultor {next(_counter)}",
        "dni": valid_dni(),
        "gender": "female",
        "public_name_consent": True,
    }
    body.update(overrides)
    response = await client.post(f"/api/v1/cooperatives/{cooperative_id}/farmers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def create_plot(
    client: httpx.AsyncClient, headers: dict[str, str], farmer_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Parcela {next(_counter)}",
        "crop": "cacao",
        "geometry": TARAPOTO_POLYGON,
    }
    body.update(overrides)
    response = await client.post(f"/api/v1/farmers/{farmer_id}/plots", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
