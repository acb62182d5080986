"""The fast path: a fresh cached page is sent without the app; anything else goes to the app."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from deploy.allinone import create_allinone
from services.lots.public.cache import Entry, PublicCache
from services.lots.public.fastpath import PublicPageFastPath
from services.lots.public.scans import ScanCounter
from services.lots.public.schemas import PublicClaims, PublicLot, PublicOrigin
from services.lots.public.store import Blobs
from services.lots.public.watch import ChangeWatch
from shared.db import Database
from shared.settings import Settings
from tests.factories import create_origin, deliver
from tests.lots.calls import HeadersFor

PAGE = b"<!doctype html><p>pagina</p>" + b"x" * 4000


def entry(checked_at: float) -> Entry:
    lot = PublicLot(
        code="ACE34XY67",
        digital_link="https://chacra.example/l/ACE34XY67",
        gtin=None,
        product="cacao",
        form="dry",
        quantity_kg=Decimal("69"),
        cooperatives=[],
        origin=PublicOrigin(
            farmers=1,
            plots=1,
            deliveries=1,
            harvested_from=date(2026, 10, 1),
            harvested_to=date(2026, 10, 1),
            districts=[],
            named_farmers=[],
        ),
        journey=[],
        quality=None,
        claims=PublicClaims(available=False),
        updated_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
    )
    built = Entry(
        facts="v1",
        checked_key="v1",
        lot_id="lot_1",
        code=lot.code,
        gtin=None,
        updated_at=lot.updated_at,
        blobs=Blobs(json=lot.model_dump_json().encode()),
        checked_at=checked_at,
        built_at=checked_at,
    )
    built.add_page("es", PAGE)
    return built


class Harness:
    """The front layer over a cache whose watch polled at 100 and is trusted until 110."""

    def __init__(self, now: float) -> None:
        self.cache = PublicCache(clock=lambda: now)
        self.cache.put("ACE34XY67", entry(checked_at=100.0))
        self.cache.trust_until(110.0)
        self.scans = ScanCounter()
        self.app = SimpleNamespace(state=SimpleNamespace(public_cache=self.cache, scans=self.scans))
        self.passed: list[str] = []
        self.layer = PublicPageFastPath("lots", self.cache, self.scans)

    async def get(
        self, path: str, query: str = "", method: str = "GET", **headers: str
    ) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        }
        if not await self.layer.answer(self.app, scope, send):  # type: ignore[arg-type]
            self.passed.append(path)
        return sent


def header(messages: list[dict[str, Any]], name: bytes) -> str | None:
    return next((v.decode() for k, v in messages[0]["headers"] if k == name), None)


async def test_a_fresh_page_is_sent_with_the_routes_headers_and_the_scan_counted() -> None:
    harness = Harness(now=105.0)
    sent = await harness.get("/l/ace34xy67")
    assert harness.passed == []
    assert sent[0]["status"] == 200 and sent[1]["body"] == PAGE
    assert header(sent, b"etag") == harness.cache.get("ACE34XY67").etag("page-es")  # type: ignore[union-attr]
    assert header(sent, b"cache-control") == "public, max-age=60, must-revalidate"
    assert harness.scans.pending == 1


async def test_gzip_when_asked_and_304_when_the_tag_matches() -> None:
    harness = Harness(now=105.0)
    zipped = await harness.get("/l/ACE34XY67", accept_encoding="gzip, br")
    assert header(zipped, b"content-encoding") == "gzip"
    assert gzip.decompress(zipped[1]["body"]) == PAGE
    etag = header(zipped, b"etag")
    assert etag is not None
    again = await harness.get("/l/ACE34XY67", if_none_match=etag, accept_encoding="gzip")
    assert again[0]["status"] == 304 and again[1]["body"] == b""


async def test_the_language_switch_is_not_a_scan_and_a_missing_language_goes_to_the_app() -> None:
    harness = Harness(now=105.0)
    assert (await harness.get("/l/ACE34XY67", "lang=es"))[0]["status"] == 200
    assert (await harness.get("/l/ACE34XY67", "lang="))[0]["status"] == 200  # as the route: not a scan
    assert harness.scans.pending == 0
    await harness.get("/l/ACE34XY67", "lang=en")  # not rendered yet: the route renders it
    assert harness.passed == ["/l/ACE34XY67"]


async def test_an_entry_the_watch_no_longer_vouches_for_goes_to_the_app() -> None:
    silent = Harness(now=111.0)  # the watch has not polled lately: every page is checked
    await silent.get("/l/ACE34XY67")
    assert silent.passed == ["/l/ACE34XY67"] and silent.scans.pending == 0
    marked = Harness(now=105.0)
    marked.cache.mark_lots(["lot_1"], at=104.0)  # an event in the lot's lineage, seen at 104
    await marked.get("/l/ACE34XY67")
    claims = Harness(now=105.0)
    claims.cache.mark_claims(at=104.0)
    await claims.get("/l/ACE34XY67")
    other = Harness(now=105.0)
    other.cache.mark_lots(["lot_2"], at=104.0)  # another lot's change is not this page's
    await other.get("/l/ACE34XY67")
    assert (marked.passed, claims.passed, other.passed) == (["/l/ACE34XY67"], ["/l/ACE34XY67"], [])


async def test_a_stale_entry_another_parameter_or_an_unknown_code_go_to_the_app() -> None:
    old = Harness(now=105.0)
    old.cache.get("ACE34XY67").built_at = 105.0 - 3601  # type: ignore[union-attr]
    await old.get("/l/ACE34XY67")  # built over an hour ago: the registry's facts are read again
    assert old.passed == ["/l/ACE34XY67"] and old.scans.pending == 0
    fresh = Harness(now=105.0)
    await fresh.get("/l/ACE34XY67", "utm_source=qr")
    await fresh.get("/l/NOSUCHLOT")
    await fresh.get("/api/v1/public/lots/ACE34XY67")
    assert fresh.passed == ["/l/ACE34XY67", "/l/NOSUCHLOT", "/api/v1/public/lots/ACE34XY67"]


async def test_a_reload_past_caches_goes_to_the_app() -> None:
    harness = Harness(now=105.0)
    await harness.get("/l/ACE34XY67", cache_control="no-cache")
    await harness.get("/l/ACE34XY67", pragma="no-cache")
    assert harness.passed == ["/l/ACE34XY67", "/l/ACE34XY67"]


@pytest.fixture
async def cached_api(
    settings: Settings, db: Database, lots_db: Database, certification_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """The platform as it runs, with a change watch; the tests make it poll (``poll(client)``)."""
    serving = settings.model_copy(update={"public_revalidate_seconds": 30.0})
    platform = create_allinone(
        serving, databases={"cooperatives": db, "lots": lots_db, "certification": certification_db}
    )
    async with (
        platform.root.router.lifespan_context(platform.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://test") as client,
    ):
        client.platform = platform  # type: ignore[attr-defined]
        yield client


async def poll(client: httpx.AsyncClient) -> set[str]:
    watch: ChangeWatch = client.platform.apps["lots"].state.public_watch  # type: ignore[attr-defined]
    return await watch.poll()


async def test_the_fast_path_answers_as_the_route_does_and_is_measured(
    cached_api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    origin = await create_origin(cached_api, admin_headers, headers_for)
    lot = await deliver(cached_api, origin, "50")
    url = f"/l/{lot['code']}"
    await poll(cached_api)  # the watch's first look: the delivery and the claims version
    metrics = (await cached_api.get("/metrics")).text
    counted_before, memory_before = _page_requests(metrics), _from_memory(metrics)
    # (httpx asks for gzip unless told otherwise, and decodes it)
    for headers in ({"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip"}, {"Accept-Language": "en"}):
        # The route's answer (a reload past caches always reaches it), then the same from memory.
        built = await cached_api.get(url, headers={**headers, "Cache-Control": "no-cache"})
        await poll(cached_api)  # the watch has looked: the entry is vouched for
        fast = await cached_api.get(url, headers=headers)  # then it comes from memory
        assert fast.status_code == built.status_code == 200
        assert fast.content == built.content
        for name in ("etag", "last-modified", "cache-control", "vary", "content-type", "content-encoding"):
            assert fast.headers.get(name) == built.headers.get(name), name
        assert "accept-encoding" in fast.headers["vary"].lower()
        again = await cached_api.get(url, headers={**headers, "If-None-Match": fast.headers["etag"]})
        assert again.status_code == 304
    plain = await cached_api.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await cached_api.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != plain.headers["etag"]  # two representations, two tags
    # 11 page requests above, each counted under the page's route, from memory or not; all but
    # the three first builds came from memory.
    metrics = (await cached_api.get("/metrics")).text
    assert _page_requests(metrics) - counted_before == 11
    assert _from_memory(metrics) - memory_before == 8


def _page_requests(metrics: str) -> float:
    pattern = r'chacra_http_requests_total\{[^}]*route="/l/\{code:path\}"[^}]*\} ([\d.e+]+)'
    return sum(float(n) for n in re.findall(pattern, metrics))


def _from_memory(metrics: str) -> float:
    found = re.search(r"^chacra_public_pages_from_memory_total ([\d.e+]+)", metrics, re.MULTILINE)
    assert found is not None
    return float(found.group(1))


async def test_a_head_from_memory_is_not_a_scan() -> None:
    harness = Harness(now=105.0)
    sent = await harness.get("/l/ACE34XY67", method="HEAD")
    assert sent[0]["status"] == 200 and sent[1]["body"] == b""
    assert header(sent, b"content-length") == str(len(PAGE))
    assert harness.scans.pending == 0 and harness.passed == []


async def test_an_answer_from_memory_carries_a_request_id_and_keeps_the_callers() -> None:
    harness = Harness(now=105.0)
    mine = await harness.get("/l/ACE34XY67", x_request_id="abc123")
    new = [header(await harness.get("/l/ACE34XY67"), b"x-request-id") for _ in range(2)]
    assert header(mine, b"x-request-id") == "abc123"
    assert new[0] != new[1] and all(re.fullmatch(r"[0-9a-f]{32}", str(n)) for n in new)
    made = [header(await harness.get("/l/ACE34XY67", x_request_id=""), b"x-request-id") for _ in range(2)]
    assert all(found is not None and len(found) == 32 for found in made)  # an empty one is no id
    assert made[0] != made[1]
    not_modified = await harness.get(
        "/l/ACE34XY67", if_none_match=header(mine, b"etag") or "", x_request_id="again"
    )
    assert not_modified[0]["status"] == 304 and header(not_modified, b"x-request-id") == "again"
