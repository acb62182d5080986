"""Pages built ahead: printing labels builds the pages their buyers will scan."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest

from deploy.allinone import AllInOne, create_allinone
from services.lots.public.cache import Entry, PublicCache
from services.lots.public.claims import CertificationClaims
from services.lots.public.schemas import PublicClaims
from services.lots.public.service import Prefetched, prefetch_claims
from services.lots.public.warm import PageWarmer
from shared.db import Database
from shared.errors import NotFound
from shared.settings import Settings
from tests.factories import Origin, create_origin, deliver
from tests.lots.calls import HeadersFor, cached_entry, event

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
    building_ahead: tuple[httpx.AsyncClient, AllInOne],
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, platform = building_ahead
    origin = await create_origin(api, admin_headers, headers_for)
    lot, other = await deliver(api, origin, "50"), await deliver(api, origin, "25")
    lots_app = platform.apps["lots"]
    claims = lots_app.state.public_claims
    batches: list[list[str]] = []
    alone: list[str] = []
    many, one = claims.many, type(claims).__call__

    async def counted_many(lot_ids: Sequence[str]) -> dict[str, PublicClaims]:
        batches.append(sorted(lot_ids))
        found: dict[str, PublicClaims] = await many(lot_ids)
        return found

    async def counted_one(self: CertificationClaims, lot_id: str) -> PublicClaims:
        alone.append(lot_id)
        found: PublicClaims = await one(self, lot_id)
        return found

    monkeypatch.setattr(claims, "many", counted_many)
    monkeypatch.setattr(CertificationClaims, "__call__", counted_one)
    cache: PublicCache = lots_app.state.public_cache
    assert cache.get(lot["code"]) is None and cache.get(other["code"]) is None
    ids = f"{lot['id']},{other['code']},{lot['id']}"  # ids or codes, one repeated
    sheet = await api.get(SHEET, params={"ids": ids}, headers=origin.headers)
    assert sheet.status_code == 200, sheet.text
    await lots_app.state.page_warmer.idle()
    built = {code: cache.get(code) for code in (lot["code"], other["code"])}
    assert all(entry is not None and entry.has_page("es") for entry in built.values())
    page = await api.get(f"/l/{lot['code']}", headers={"Accept-Encoding": "identity"})
    assert page.status_code == 200 and page.content == built[lot["code"]].page("es")  # type: ignore[union-attr]
    assert cache.get(lot["code"]) is built[lot["code"]]  # checked, not built again
    assert batches == [sorted([lot["id"], other["id"]])] and alone == []  # their claims: one request
    assert all(entry is not None and entry.lot.claims.available for entry in built.values())


async def test_the_warmer_takes_each_code_once_caps_what_waits_and_survives_a_failure() -> None:
    built: list[str] = []
    gate = asyncio.Event()

    async def build_one(code: str) -> None:
        await gate.wait()
        if code == "GONE":
            raise NotFound("No lot with code GONE.")
        built.append(code)

    async def build(codes: list[str]) -> list[BaseException | None]:
        done = await asyncio.gather(*map(build_one, codes), return_exceptions=True)
        return [None if outcome is None else outcome for outcome in done]

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


async def test_a_long_print_run_ends_with_one_full_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    collections: list[int] = []
    calls: list[str] = []

    def collect(*_: Any) -> int:
        collections.append(1)
        calls.append("collect")
        return 0

    monkeypatch.setattr("services.lots.public.warm.gc.collect", collect)
    monkeypatch.setattr("services.lots.public.warm.gc.freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr("services.lots.public.warm.gc.unfreeze", lambda: calls.append("unfreeze"))

    async def build(codes: list[str]) -> list[BaseException | None]:
        return [None] * len(codes)

    warmer = PageWarmer(build, batch=2, collect_after=5)
    warmer.start()
    try:
        warmer.schedule(["A", "B", "C", "D"])
        await asyncio.wait_for(warmer.idle(), timeout=5)
        assert warmer.built == 4 and collections == []  # a short run: the collector's own pace
        warmer.schedule(["E", "F", "G"])
        await asyncio.wait_for(warmer.idle(), timeout=5)
        assert warmer.built == 7 and collections == [1]  # 7 built since: once, when drained
        # What was set aside at the last settle is collected too; what survives is set aside again.
        assert calls == ["unfreeze", "collect", "freeze"]
        warmer.schedule(["H"])
        await asyncio.wait_for(warmer.idle(), timeout=5)
        assert collections == [1]  # counted from the last collection
    finally:
        await warmer.stop()


async def test_claims_asked_ahead_are_taken_only_while_neither_version_moved(
    platform: AllInOne, api: httpx.AsyncClient, lot: dict[str, Any], origin: Origin
) -> None:
    lots_app = platform.apps["lots"]
    alone: list[str] = []
    ahead_claims = PublicClaims(available=True)

    async def single(lot_id: str) -> PublicClaims:
        alone.append(lot_id)
        return PublicClaims(available=False)

    async def many(lot_ids: Sequence[str]) -> dict[str, PublicClaims]:
        return dict.fromkeys(lot_ids, ahead_claims)

    async def version() -> str | None:
        return "v1"

    async def entry(prefetched: dict[str, Prefetched]) -> Entry:
        return await cached_entry(
            platform, PublicCache(), lot["code"], claims=single, claims_version=version, prefetched=prefetched
        )

    sessions = lots_app.state.database.read_sessions

    async def ahead() -> dict[str, Prefetched]:
        return await prefetch_claims(
            sessions, PublicCache(), [lot["code"], "NOSUCHCODE"], many=many, claims_version=version
        )

    asked = await ahead()
    assert list(asked) == [lot["id"]]  # a code of no lot is left out
    assert (await entry(asked)).lot.claims.available and alone == []  # taken as asked

    moved_claims = {lot["id"]: replace(asked[lot["id"]], mark="v0")}  # claims moved since asked
    assert not (await entry(moved_claims)).lot.claims.available and alone == [lot["id"]]

    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")  # the ledger moved
    assert not (await entry(asked)).lot.claims.available and alone == [lot["id"], lot["id"]]
    assert (await entry(await ahead())).lot.claims.available and len(alone) == 2

    async def available(_lot_id: str) -> PublicClaims:
        return ahead_claims

    trusted = PublicCache()
    trusted.trust_until(math.inf)  # a watch vouching for what is cached
    await cached_entry(platform, trusted, lot["code"], claims=available, claims_version=version)
    # A label printed again: its page is current, its claims are not asked.
    assert await prefetch_claims(sessions, trusted, [lot["code"]], many=many, claims_version=version) == {}
