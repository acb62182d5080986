"""The demo ledger goes in through the API and leaves the exporter something real to show."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from services.cooperatives.demo import load_demo
from services.lots.demo import DEMO_EXPORTER_ORGANIZATION, load_ledger_demo
from shared.db import Database


async def test_the_demo_ledger_hands_export_lots_to_the_demo_exporter(
    db: Database, api: httpx.AsyncClient
) -> None:
    async with db.transaction() as session:
        assert await load_demo(session) is not None

    held = await load_ledger_demo(api)

    login = await api.post(
        "/api/v1/auth/token", data={"username": "exportador", "password": "chacra-demo-exportador"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    lots = (await api.get("/api/v1/lots", params={"limit": 500}, headers=headers)).json()["items"]
    assert len(lots) == held > 2
    assert {lot["holder_organization"] for lot in lots} == {DEMO_EXPORTER_ORGANIZATION}
    export_lots = [lot for lot in lots if lot["remaining_kg"] > 0]
    assert {lot["product"] for lot in export_lots} == {"cacao", "coffee"}
    assert {lot["status"] for lot in export_lots} == {"active", "shipped"}
    for lot in export_lots:
        response = await api.get(f"/api/v1/lots/{lot['id']}/provenance", headers=headers)
        provenance = json.loads(response.text, parse_float=Decimal)
        assert provenance["deliveries"] >= 8
        assert sum(p["share_pct"] for p in provenance["plots"]) == Decimal("100")
        assert all(d["ubigeo"] for d in provenance["districts"])
