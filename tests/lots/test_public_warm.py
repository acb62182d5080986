"""Pages built ahead: printing labels builds the pages their buyers will scan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.allinone import AllInOne, create_allinone
from services.lots.public.cache import PublicCache
from services.lots.public.warm import PageWarmer
from shared.db import Database
from shared.errors import NotFound
from shared.settings import Settings
from tests.factories import create_origin, deliver
from tests.lots.calls import HeadersFor

SHEET = "/api/v1/lots/labels.pdf"


@pytest.fixture
async def building_ahead(
    settings: Settings, db: Database, lots_db: Database, certification_db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, AllInOne]]:
    """The platform as it runs: printing labels queues their pages."""
    platform = create_allinone(
        settings.model_copy(update={"public_build_ahead": True}),
        databases={"cooperatives": db, "lots": lots_db, "certification": certification_db},
    )
    async with (
        platform.root.router.lifespan_context(platform.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://test") as client,
    ):
        yield client, platform


async def test_printing_labels_builds_their_pages_before_the_first_scan(
    building_ahead: tuple[httpx.AsyncClient, AllInOne], admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    api, platform = building_ahead
    origin = await create_origin(api, admin_headers, headers_for)
    lot, other = await deliver(api, origin, "50"), await deliver(api, origin, "25")
    lots_app = platform.apps["lots"]
    cache: PublicCache = lots_app.state.public_cache
    assert cache.get(lot["code"]) is None and cache.get(other["code"]) is None
    ids = f"{lot['id']},{other['code']},{lot['id']}"  # ids or codes, one repeated
    sheet = await api.get(SHEET, params={"ids": ids}, headers=origin.headers)
    assert sheet.status_code == 200, sheet.text
    await lots_app.state.page_warmer.idle()
    built = {code: cache.get(code) for code in (lot["code"], other["code"])}
    assert all(entry is not None and "es" in entry.pages for entry in built.values())
    page = await api.get(f"/l/{lot['code']}", headers={"Accept-Encoding": "identity"})
    assert page.status_code == 200 and page.content == built[lot["code"]].pages["es"]  # type: ignore[union-attr]
    assert cache.get(lot["code"]) is built[lot["code"]]  # checked, not built again


async def test_the_warmer_takes_each_code_once_caps_what_waits_and_survives_a_failure() -> None:
    built: list[str] = []
    gate = asyncio.Event()

    async def build(code: str) -> None:
        await gate.wait()
        if code == "GONE":
            raise NotFound("No lot with code GONE.")
        built.append(code)

    warmer = PageWarmer(build, max_waiting=3)
    warmer.start()
    try:
        assert warmer.schedule(["A", "GONE", "A", "B", "C", "D"]) == 3  # A once; D past the cap
        gate.set()
        await asyncio.wait_for(warmer.idle(), timeout=5)
        assert built == ["A", "B"] and warmer.built == 2
        assert warmer.schedule(["D"]) == 1  # room again once the queue drained
        await asyncio.wait_for(warmer.idle(), timeout=5)
        assert built == ["A", "B", "D"]
    finally:
        await warmer.stop()
