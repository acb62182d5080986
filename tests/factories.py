"""Test data: valid identifiers and objects created through the API."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
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


# lots


@dataclass
class Origin:
    """A cooperative with a manager, a farmer and a plot: what a delivery needs."""

    cooperative: dict[str, Any]
    farmer: dict[str, Any]
    plot: dict[str, Any]
    headers: dict[str, str]

    @property
    def cooperative_id(self) -> str:
        return str(self.cooperative["id"])


async def create_origin(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    headers_for: Callable[..., dict[str, str]],
    *,
    crop: str = "cacao",
    cooperative: dict[str, Any] | None = None,
    **cooperative_overrides: Any,
) -> Origin:
    coop = cooperative or await create_cooperative(client, admin_headers, **cooperative_overrides)
    headers = headers_for("manager", cooperative_id=coop["id"], user_id=f"usr_mgr_{coop['id'][-8:]}")
    farmer = await create_farmer(client, headers, coop["id"])
    plot = await create_plot(client, headers, farmer["id"], crop=crop)
    return Origin(coop, farmer, plot, headers)


async def deliver(
    client: httpx.AsyncClient,
    origin: Origin,
    quantity_kg: str | float = "100",
    *,
    form: str | None = None,
    expect: int = 201,
    **overrides: Any,
) -> dict[str, Any]:
    crop = origin.plot["crop"]
    body: dict[str, Any] = {
        "cooperative_id": origin.cooperative_id,
        "farmer_id": origin.farmer["id"],
        "plot_id": origin.plot["id"],
        "product": crop,
        "form": form or ("baba" if crop == "cacao" else "cherry"),
        "quantity_kg": quantity_kg,
        "harvested_on": "2026-10-01",
    }
    body.update(overrides)
    response = await client.post("/api/v1/lots", json=body, headers=origin.headers)
    assert response.status_code == expect, response.text
    data: dict[str, Any] = response.json()
    return data
