"""A burst of first visits: pages built at once must not starve each other of connections.

Building a page asks certification for the claims, and certification reads this service's lineage
to answer. Pages that held a connection of the lots pool while waiting would leave none for those
reads (QueuePool timeouts, 500s, as the scan-burst bench first showed) — real engines and pools here.
"""

from __future__ import annotations

import asyncio

import httpx

from deploy.allinone import create_allinone
from tests.conftest import make_settings
from tests.factories import create_origin, deliver
from tests.lots.calls import HeadersFor

PAGES = 40  # more than a pool's 5 + 10 connections


async def test_forty_first_visits_at_once_all_get_their_page(
    fresh_database_url: str, signing_key_pem: str, headers_for: HeadersFor
) -> None:
    platform = create_allinone(make_settings(fresh_database_url, signing_key_pem))
    async with (
        platform.root.router.lifespan_context(platform.root),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=platform), base_url="http://test", timeout=60
        ) as api,
    ):
        admin = headers_for("admin", user_id="usr_admin", username="admin")
        origin = await create_origin(api, admin, headers_for)
        codes = [(await deliver(api, origin, "10"))["code"] for _ in range(PAGES)]
        pages = await asyncio.gather(*(api.get(f"/l/{code}") for code in codes))
    assert [p.status_code for p in pages] == [200] * PAGES
    assert all("Libre de coca" in p.text for p in pages)
