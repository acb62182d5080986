"""The demo certifies the cooperatives behind the demo ledger, so its public pages show claims that hold."""

from __future__ import annotations

import httpx

from services.certification.demo import load_certification_demo, seed_demo_body
from services.cooperatives.demo import DEMO_CERTIFYING_BODY_ID, load_demo
from services.lots.demo import load_ledger_demo
from shared.db import Database


async def test_demo_pages_show_verified_coca_free_and_deforestation_free_claims(
    db: Database, certification_db: Database, api: httpx.AsyncClient
) -> None:
    async with db.transaction() as session:
        assert await load_demo(session) is not None
    async with certification_db.transaction() as session:
        assert await seed_demo_body(session, DEMO_CERTIFYING_BODY_ID)
        assert not await seed_demo_body(session, DEMO_CERTIFYING_BODY_ID)  # once
    await load_ledger_demo(api)
    made = await load_certification_demo(
        api,
        body_id=DEMO_CERTIFYING_BODY_ID,
        admin=("admin", "chacra-demo-admin"),
        certifier=("certificador", "chacra-demo-certificador"),
    )
    assert made == 3  # one per cooperative that delivered

    login = await api.post(
        "/api/v1/auth/token", data={"username": "exportador", "password": "chacra-demo-exportador"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    lots = (await api.get("/api/v1/lots", params={"limit": 500}, headers=headers)).json()["items"]
    export = next(lot for lot in lots if lot["origin"] == "merge" and lot["remaining_kg"] > 0)
    claims = (await api.get(f"/api/v1/public/lots/{export['code']}")).json()["claims"]
    assert claims["coca_free"]["status"] == "verified"
    assert claims["deforestation_free"]["status"] == "verified"
    assert claims["organic"]["EU_2018_848"]["status"] in {"verified", "not_verified"}
    page = (await api.get(f"/l/{export['code']}")).text
    assert "Libre de coca: Verificado" in page
