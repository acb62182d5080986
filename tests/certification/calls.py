"""Calls and data the certification tests share: plots with their own squares, certificates, claims."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import Origin, create_farmer, create_plot, deliver

HeadersFor = Callable[..., dict[str, str]]
CERTIFICATES = "/api/v1/certificates"
_cell = itertools.count(1)

# Plots sit on a grid near Tarapoto (San Martín): each its own ~1 ha square, none touching another.
BASE_LON, BASE_LAT = -76.380123, -6.520457
STEP = 0.002
SIDE = 0.000911


def square(lon: float, lat: float, side: float = SIDE) -> dict[str, Any]:
    corners = [(lon, lat), (lon + side, lat), (lon + side, lat + side), (lon, lat + side), (lon, lat)]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in corners]]}


def next_corner() -> tuple[float, float]:
    """The south-west corner of a grid cell no other plot of this test run uses."""
    n = next(_cell)
    return BASE_LON + (n % 100) * STEP, BASE_LAT + (n // 100) * STEP


async def new_plot(api: httpx.AsyncClient, origin: Origin, **overrides: Any) -> dict[str, Any]:
    lon, lat = next_corner()
    body: dict[str, Any] = {"geometry": square(lon, lat), "organic_since": "2020-01-01"}
    body.update(overrides)
    return await create_plot(api, origin.headers, origin.farmer["id"], **body)


async def new_farmer_plot(
    api: httpx.AsyncClient, origin: Origin, **overrides: Any
) -> tuple[str, dict[str, Any]]:
    farmer = await create_farmer(api, origin.headers, origin.cooperative_id)
    lon, lat = next_corner()
    body: dict[str, Any] = {"geometry": square(lon, lat), "organic_since": "2020-01-01"}
    body.update(overrides)
    plot = await create_plot(api, origin.headers, farmer["id"], **body)
    return farmer["id"], plot


async def deliver_from(
    api: httpx.AsyncClient, origin: Origin, plot: dict[str, Any], kg: str = "100", **overrides: Any
) -> dict[str, Any]:
    """A delivery from ``plot`` (of any farmer of the origin's cooperative)."""
    at = Origin(origin.cooperative, {"id": plot["farmer_id"]}, plot, origin.headers)
    return await deliver(api, at, kg, **overrides)


async def merge(
    api: httpx.AsyncClient, headers: dict[str, str], lots: list[dict[str, Any]]
) -> dict[str, Any]:
    body = {"inputs": [{"lot_id": lot["id"], "quantity_kg": lot["remaining_kg"]} for lot in lots]}
    response = await api.post("/api/v1/lots/merge", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@dataclass
class Body:
    id: str
    certifier: dict[str, str]


async def create_body(
    api: httpx.AsyncClient,
    admin: dict[str, str],
    headers_for: HeadersFor,
    *,
    standards: list[str] | None = None,
) -> Body:
    n = next(_cell)
    body = {
        "name": f"Control Union {n}",
        "code": f"PE-BIO-{n}",
        "standards": standards or ["EU_2018_848", "USDA_NOP"],
    }
    response = await api.post("/api/v1/certifying-bodies", json=body, headers=admin)
    assert response.status_code == 201, response.text
    body_id = response.json()["id"]
    certifier = headers_for("certifier", certifying_body_id=body_id, user_id=f"usr_cert_{n}")
    return Body(body_id, certifier)


def certificate_body(body: Body, origin: Origin, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": f"CU-{next(_cell)}",
        "certifying_body_id": body.id,
        "standard": "EU_2018_848",
        "cooperative_id": origin.cooperative_id,
        "products": ["cacao"],
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "scope": {"plot_ids": [origin.plot["id"]]},
    }
    data.update(overrides)
    return data


async def certify(api: httpx.AsyncClient, body: Body, origin: Origin, **overrides: Any) -> dict[str, Any]:
    response = await api.post(
        CERTIFICATES, json=certificate_body(body, origin, **overrides), headers=body.certifier
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def change(api: httpx.AsyncClient, body: Body, certificate_id: str, action: str) -> httpx.Response:
    return await api.post(
        f"{CERTIFICATES}/{certificate_id}/{action}",
        json={"reason": f"{action}: audit finding"},
        headers=body.certifier,
    )


async def claims(api: httpx.AsyncClient, lot_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/claims/lots/{lot_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def organic(api: httpx.AsyncClient, lot_id: str, standard: str = "EU_2018_848") -> dict[str, Any]:
    data: dict[str, Any] = (await claims(api, lot_id))["organic"][standard]
    return data


async def verify(
    api: httpx.AsyncClient,
    body: Body,
    plot_id: str,
    *,
    kind: str = "coca_free",
    result: str = "pass",
    on: str = "2026-09-01",
) -> dict[str, Any]:
    payload = {
        "plot_id": plot_id,
        "kind": kind,
        "result": result,
        "verified_on": on,
        "method": "field_visit",
        "verifier": "Ing. Rosa Quispe (DEVIDA)",
        "evidence": "acta 2026-114",
    }
    response = await api.post("/api/v1/verifications", json=payload, headers=body.certifier)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def feature(geometry: dict[str, Any], fid: str | None = None, **properties: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": properties}
    if fid is not None:
        data["id"] = fid
    return data


async def post_layer(
    api: httpx.AsyncClient, headers: dict[str, str], kind: str, features: list[dict[str, Any]], **extra: Any
) -> httpx.Response:
    body = {
        "kind": kind,
        "source": "DEVIDA monitoreo 2026",
        "observed_on": "2026-09-15",
        "features": {"type": "FeatureCollection", "features": features},
        **extra,
    }
    return await api.post("/api/v1/monitoring-layers", json=body, headers=headers)


async def load_layer(
    api: httpx.AsyncClient, headers: dict[str, str], kind: str, features: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    response = await post_layer(api, headers, kind, features, **extra)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
