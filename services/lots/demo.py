"""A demo ledger, recorded through the public API exactly as the demo users would record it.

Three DEMO cooperatives collect deliveries from their members, merge, ferment and dry (cacao) or
dry and hull (coffee), grade and bag them, and hand bags to the DEMO exporter, which merges them
into an export lot, shows it at a fair and ships it. Going through the API (not the tables) keeps
the demo honest: every rule a real user meets, the demo met too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

DEMO_EXPORTER_ORGANIZATION = "DEMO Exportadora Amazónica SAC"
DEMO_MANAGER_PASSWORD = "chacra-demo-gerente"  # noqa: S105 - the published demo password
DEMO_EXPORTER = ("exportador", "chacra-demo-exportador")
DELIVERIES_PER_COOPERATIVE = 8
BAG_KG = Decimal("69")  # the usual jute sack of dry cacao or green coffee


class DemoError(RuntimeError):
    pass


@dataclass(slots=True)
class Session:
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers, **kwargs)
        if response.status_code >= 400:
            raise DemoError(f"{method} {path} → {response.status_code}: {response.text[:500]}")
        return response.json()


async def _login(client: httpx.AsyncClient, username: str, password: str) -> Session:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if response.status_code != 200:
        raise DemoError(f"demo login {username} failed: {response.status_code}")
    return Session(client, {"Authorization": f"Bearer {response.json()['access_token']}"})


async def _batch(manager: Session, rng: random.Random, today: date, prefer: str) -> list[dict[str, Any]]:
    """Deliveries of one cooperative, processed into export bags; returns the bags."""
    me = await manager.call("GET", "/api/v1/users/me")
    cooperative_id = me["cooperative_id"]
    plots = (
        await manager.call("GET", "/api/v1/plots", params={"cooperative_id": cooperative_id, "limit": 50})
    )["items"]
    crops = {p["crop"] for p in plots}
    product = prefer if prefer in crops else plots[0]["crop"]
    plots = [p for p in plots if p["crop"] == product][:DELIVERIES_PER_COOPERATIVE]
    wet_form = "baba" if product == "cacao" else "cherry"
    deliveries = []
    for i, plot in enumerate(plots):
        kg = Decimal(rng.randrange(180, 900)) if product == "cacao" else Decimal(rng.randrange(600, 2400))
        deliveries.append(
            await manager.call(
                "POST",
                "/api/v1/lots",
                json={
                    "cooperative_id": cooperative_id,
                    "farmer_id": plot["farmer_id"],
                    "plot_id": plot["id"],
                    "product": product,
                    "form": wet_form,
                    "quantity_kg": str(kg),
                    "harvested_on": (today - timedelta(days=30 - i)).isoformat(),
                },
            )
        )
    batch = await manager.call(
        "POST",
        "/api/v1/lots/merge",
        json={"inputs": [{"lot_id": d["id"], "quantity_kg": d["quantity_kg"]} for d in deliveries]},
    )
    total = Decimal(str(batch["quantity_kg"]))
    if product == "cacao":
        fermented = await _transform(manager, batch, "fermentation", "fermented", total * Decimal("0.85"))
        dry = await _transform(manager, fermented, "drying", "dry", total * Decimal("0.85") * Decimal("0.45"))
        quality: dict[str, Any] = {
            "moisture_pct": "7.0",
            "cut_test": {"well_fermented_pct": "82", "slaty_pct": "2"},
        }
    else:
        parchment = await _transform(manager, batch, "drying", "parchment", total * Decimal("0.21"))
        dry = await _transform(
            manager, parchment, "hulling", "green", total * Decimal("0.21") * Decimal("0.8")
        )
        quality = {"moisture_pct": "11.0", "cupping_score": "85.25", "defects": 3}
    await manager.call("POST", f"/api/v1/lots/{dry['id']}/events", json={"type": "quality", **quality})
    await manager.call(
        "POST", f"/api/v1/lots/{dry['id']}/events", json={"type": "storage", "warehouse": "Almacén central"}
    )
    bags = int(Decimal(str(dry["quantity_kg"])) // BAG_KG)
    split = await manager.call(
        "POST", f"/api/v1/lots/{dry['id']}/split", json={"outputs": [{"quantity_kg": str(BAG_KG)}] * bags}
    )
    handed: list[dict[str, Any]] = split["lots"][: max(1, bags // 2)]
    for bag in handed:
        await manager.call(
            "POST",
            f"/api/v1/lots/{bag['id']}/events",
            json={"type": "handover", "to_organization": DEMO_EXPORTER_ORGANIZATION},
        )
    return handed


async def _transform(
    manager: Session, lot: dict[str, Any], process: str, form: str, kg: Decimal
) -> dict[str, Any]:
    result: dict[str, Any] = await manager.call(
        "POST",
        f"/api/v1/lots/{lot['id']}/transform",
        json={
            "process": process,
            "output_form": form,
            "output_quantity_kg": str(kg.quantize(Decimal("0.001"))),
        },
    )
    return result


async def load_ledger_demo(client: httpx.AsyncClient, *, managers: int = 3, today: date | None = None) -> int:
    """Record the demo ledger; returns how many lots the exporter ended up holding."""
    rng = random.Random(2026)
    today = today or date.today()
    bags: list[dict[str, Any]] = []
    for i in range(managers):
        manager = await _login(client, f"gerente{i + 1}", DEMO_MANAGER_PASSWORD)
        bags += await _batch(manager, rng, today, prefer=("cacao", "coffee")[i % 2])
    exporter = await _login(client, *DEMO_EXPORTER)
    fair = await exporter.call(
        "POST",
        "/api/v1/fairs",
        json={
            "name": "DEMO Salón del Cacao y Chocolate",
            "city": "Lima",
            "starts_on": (today + timedelta(days=7)).isoformat(),
            "ends_on": (today + timedelta(days=10)).isoformat(),
        },
    )
    by_product: dict[str, list[dict[str, Any]]] = {}
    for bag in bags:
        by_product.setdefault(bag["product"], []).append(bag)
    for product, product_bags in by_product.items():
        lot = product_bags[0]
        if len(product_bags) > 1:
            lot = await exporter.call(
                "POST",
                "/api/v1/lots/merge",
                json={"inputs": [{"lot_id": b["id"], "quantity_kg": b["quantity_kg"]} for b in product_bags]},
            )
        await exporter.call(
            "POST",
            f"/api/v1/lots/{lot['id']}/events",
            json={"type": "fair", "fair_id": fair["id"], "booth": "B-12"},
        )
        if product == "coffee":
            await exporter.call(
                "POST",
                f"/api/v1/lots/{lot['id']}/events",
                json={"type": "shipment", "destination_country": "DE", "bill_of_lading": "DEMO-BL-0001"},
            )
    held = await exporter.call("GET", "/api/v1/lots", params={"limit": 500})
    return len(held["items"])
