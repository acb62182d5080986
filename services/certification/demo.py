"""Demo certification: the DEMO control body certifies the DEMO cooperatives whose lots the demo ledger
made, and verifies their plots — so the demo's public pages show claims that hold, and why.

The body is written with the id the demo certifier's account already names (a body's id is
otherwise drawn at random); everything else goes through the API, as the certifier would.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.models import CertifyingBody
from shared.db import utcnow

DEMO_BODY_NAME = "DEMO Control Orgánico Perú"
DEMO_BODY_CODE = "PE-BIO-DEMO"


async def seed_demo_body(session: AsyncSession, body_id: str) -> bool:
    """The DEMO certifying body, once; False when it is already there."""
    if await repository.get_body(session, body_id) is not None:
        return False
    await repository.insert_rows(
        session,
        CertifyingBody,
        [
            {
                "id": body_id,
                "name": DEMO_BODY_NAME,
                "code": DEMO_BODY_CODE,
                "standards": ["EU_2018_848", "USDA_NOP"],
                "created_at": utcnow(),
            }
        ],
    )
    return True


async def _token(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    response = await client.request(method, path, headers=headers, **kw)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path} → {response.status_code}: {response.text[:500]}")
    return response.json()


async def load_certification_demo(
    client: httpx.AsyncClient,
    *,
    body_id: str,
    admin: tuple[str, str],
    certifier: tuple[str, str],
    today: date | None = None,
) -> int:
    """Certify every cooperative that delivered into the demo ledger; returns the certificates made."""
    today = today or date.today()
    admin_headers = await _token(client, *admin)
    certifier_headers = await _token(client, *certifier)
    deliveries = await _call(
        client, "GET", "/api/v1/lots", admin_headers, params={"origin": "delivery", "limit": 500}
    )
    by_cooperative: dict[str, set[str]] = {}
    for lot in deliveries["items"]:
        by_cooperative.setdefault(lot["cooperative_id"], set()).add(lot["product"])
    made = 0
    for number, (cooperative_id, products) in enumerate(sorted(by_cooperative.items()), start=1):
        plots = await _call(
            client,
            "GET",
            "/api/v1/plots",
            admin_headers,
            params={"cooperative_id": cooperative_id, "limit": 500},
        )
        plot_ids = [p["id"] for p in plots["items"]]
        await _call(
            client,
            "POST",
            "/api/v1/certificates",
            certifier_headers,
            json={
                "number": f"DEMO-EU-{today.year}-{number:03d}",
                "certifying_body_id": body_id,
                "standard": "EU_2018_848",
                "cooperative_id": cooperative_id,
                "products": sorted(products),
                "valid_from": (today - timedelta(days=300)).isoformat(),
                "valid_to": (today + timedelta(days=65)).isoformat(),
                "scope": {"plot_ids": plot_ids},
            },
        )
        made += 1
        for plot_id in plot_ids:
            for kind, method in (("coca_free", "field_visit"), ("deforestation_free", "satellite")):
                await _call(
                    client,
                    "POST",
                    "/api/v1/verifications",
                    certifier_headers,
                    json={
                        "plot_id": plot_id,
                        "kind": kind,
                        "result": "pass",
                        "verified_on": (today - timedelta(days=40)).isoformat(),
                        "method": method,
                        "verifier": "DEMO técnico de campo",
                        "evidence": f"DEMO acta {number:03d}",
                    },
                )
    return made
