"""What `chacra serve` hands uvicorn: every app's front layers first, then proxy headers and the app."""

from __future__ import annotations

import argparse
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Scope, Send

from deploy import cli
from deploy.allinone import AllInOne
from deploy.front import Front
from shared.web import ServiceApp


class Layer:
    """Answers ``/fast`` itself; counts every request it was asked about."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    async def answer(self, app: FastAPI, scope: Scope, send: Send) -> bool:
        self.tried.append(scope["path"])
        if scope["path"] != "/fast":
            return False
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-answered-by", b"front")]})
        await send({"type": "http.response.body", "body": b"from memory"})
        return True


def service_app(layer: Layer) -> ServiceApp:
    app = ServiceApp()
    app.front = (layer,)

    @app.get("/who")
    async def who(request: Request) -> dict[str, Any]:
        assert request.client is not None
        return {"client": request.client.host, "scheme": request.url.scheme}

    return app


def client(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_front_layer_answers_before_the_app_and_is_tried_once_for_what_it_passes() -> None:
    layer = Layer()
    app = service_app(layer)
    async with client(Front(app, "127.0.0.1"), "127.0.0.1") as http:
        fast = await http.get("/fast")
        assert fast.text == "from memory" and fast.headers["x-answered-by"] == "front"
        routed = await http.get("/who")
        assert routed.status_code == 200
    # Not asked again by the service app for the request it passed on.
    assert layer.tried == ["/fast", "/who"]


async def test_a_service_app_alone_still_tries_its_front_layers() -> None:
    layer = Layer()
    async with client(service_app(layer), "127.0.0.1") as http:
        assert (await http.get("/fast")).text == "from memory"
        assert (await http.get("/who")).status_code == 200
    assert layer.tried == ["/fast", "/who"]


@pytest.mark.parametrize(
    ("peer", "client_seen", "scheme_seen"),
    [("127.0.0.1", "203.0.113.9", "https"), ("198.51.100.7", "198.51.100.7", "http")],
)
async def test_forwarded_headers_are_believed_from_trusted_proxies_only(
    peer: str, client_seen: str, scheme_seen: str
) -> None:
    app = service_app(Layer())
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    async with client(Front(app, "127.0.0.1"), peer) as http:
        seen = (await http.get("/who", headers=forwarded)).json()
    assert seen == {"client": client_seen, "scheme": scheme_seen}


async def test_the_front_of_an_all_in_one_process_holds_every_service_apps_layers() -> None:
    first, second = Layer(), Layer()
    apps: dict[str, FastAPI] = {"a": service_app(first), "b": service_app(second), "c": FastAPI()}
    front = Front(AllInOne(FastAPI(), apps), "127.0.0.1")
    assert [(layer, app) for layer, app in front.layers] == [(first, apps["a"]), (second, apps["b"])]


def test_chacra_serve_hands_uvicorn_the_front_and_leaves_proxy_headers_to_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    ran: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        ran.update(options, app=app)

    monkeypatch.setattr("uvicorn.run", run)
    monkeypatch.setattr("shared.observability.configure_logging", lambda *_, **__: None)  # pytest's own
    monkeypatch.setenv("CHACRA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'chacra.db'}")
    cli.get_settings.cache_clear()
    try:
        args = argparse.Namespace(
            host="127.0.0.1", port=8000, target="all", demo=False, forwarded_allow_ips="10.0.0.1"
        )
        assert cli.cmd_serve(args) == 0
    finally:
        cli.get_settings.cache_clear()
    front = ran["app"]
    assert isinstance(front, Front) and isinstance(front.behind.app, AllInOne)
    assert ran["proxy_headers"] is False  # applied once, by the front, not again by uvicorn
    assert ran["server_header"] is False
    assert "10.0.0.1" in front.behind.trusted_hosts
    assert [type(layer).__name__ for layer, _ in front.layers] == ["PublicPageFastPath"]
