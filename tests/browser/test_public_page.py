"""A buyer's phone opens a lot's link: Debian's chromium, driven by Playwright, against a real server.

The page must show what a buyer needs in Spanish and in English, and load nothing from any host
but ours. Screenshots are kept under test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright

from deploy.allinone import create_allinone
from tests.conftest import make_settings
from tests.factories import create_origin, deliver
from tests.lots.calls import HeadersFor, event
from tests.lots.scan import decode_one, png_image

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
GS1_PREFIX = "7751234"
GTIN13 = "7751234000016"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def chromium(backend: str) -> Path:
    if backend != "sqlite":
        pytest.skip("the page is the same on both databases: the browser checks it once, on SQLite")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is required at /usr/bin/chromium (scripts/test.sh installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def server(chromium: Path, fresh_database_url: str, signing_key_pem: str) -> AsyncIterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(fresh_database_url, signing_key_pem, public_base_url=base)
    app = create_allinone(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_phone_sees_the_lot_in_spanish_and_english_and_nothing_leaves_the_host(
    chromium: Path, server: str, headers_for: HeadersFor
) -> None:
    async with httpx.AsyncClient(base_url=server) as api:
        admin = headers_for("admin", user_id="usr_admin", username="admin")
        origin = await create_origin(api, admin, headers_for)
        lot = await deliver(api, origin, "120")
        await event(api, origin.headers, lot["id"], type="quality", moisture_pct="7.5", grade="Premium")
        # What a phone reads off the bag: the lot's QR code, decoded by a real decoder.
        qr = await api.get(f"/api/v1/lots/{lot['id']}/qr.png", headers=origin.headers)
        assert qr.status_code == 200
        gs1 = await create_origin(
            api, admin, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
        )
        gs1_lot = await deliver(api, gs1, "80")
        gs1_qr = await api.get(f"/api/v1/lots/{gs1_lot['id']}/qr.png", headers=gs1.headers)
    link = decode_one(png_image(qr.content)).text
    assert link == lot["digital_link"] and link.startswith(server)
    gs1_link = decode_one(png_image(gs1_qr.content)).text
    assert gs1_link == gs1_lot["digital_link"] and f"/01/0{GTIN13}/10/" in gs1_link

    requested: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            context = await browser.new_context(viewport=PHONE, locale="es-PE", java_script_enabled=False)
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            response = await page.goto(link)
            assert response is not None and response.status == 200
            body = await page.inner_text("body")
            assert "Recorrido" in body and "Cacao" in body
            assert origin.cooperative["name"] in body
            assert lot["code"] in body
            assert "Premium" in body and "Humedad" in body
            assert "Libre de coca: No verificado" in body  # no verification recorded yet
            await page.screenshot(path=str(ARTIFACTS / "lot-es.png"), full_page=True)

            await page.click("text=English")
            body = await page.inner_text("body")
            assert "Journey" in body and "Cocoa" in body and "Quality" in body
            assert await page.get_attribute("html", "lang") == "en"
            await page.screenshot(path=str(ARTIFACTS / "lot-en.png"), full_page=True)

            # A Digital Link: the resolver sends the phone on to the same page (307).
            resolved = await page.goto(gs1_link)
            assert resolved is not None and resolved.status == 200
            assert resolved.url.endswith(f"/l/{gs1_lot['code']}")
            assert gs1_lot["code"] in await page.inner_text("body")
            await page.screenshot(path=str(ARTIFACTS / "lot-gs1.png"), full_page=True)

            missing = await page.goto(f"{server}/l/NOSUCHLOT")
            assert missing is not None and missing.status == 404
            assert "Lot not found" in await page.inner_text("body")
            await context.close()
        finally:
            await browser.close()

    hosts = {urlsplit(url).hostname for url in requested}
    assert hosts == {"127.0.0.1"}, f"requests left the host: {sorted(hosts)}"
