"""The typed client other services use: same HTTP semantics in process and over a socket."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.cooperatives.client import CooperativesClient
from shared.errors import NotFound, ServiceUnavailable, Unauthorized
from tests.factories import create_cooperative, create_farmer, create_plot

PEER = "http://cooperatives.internal"


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests through and remembers each one, to count round trips."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transport(app: FastAPI) -> CountingTransport:
    return CountingTransport(httpx.ASGITransport(app=app))


@pytest.fixture
async def peer(transport: CountingTransport) -> AsyncIterator[CooperativesClient]:
    client = CooperativesClient(base_url=PEER, transport=transport)
    yield client
    await client.aclose()


@pytest.fixture
def token(admin_headers: dict[str, str]) -> str:
    return admin_headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def registry(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, Any]:
    coop = await create_cooperative(client, admin_headers)
    farmer = await create_farmer(client, admin_headers, coop["id"])
    plots = [await create_plot(client, admin_headers, farmer["id"]) for _ in range(3)]
    return {"cooperative": coop, "farmer": farmer, "plots": plots}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- in process ---------------------------------------------------------------------------------


async def test_a_client_built_on_the_app_reads_a_cooperative(app: FastAPI, registry: dict[str, Any]) -> None:
    client = CooperativesClient(app=app)
    try:
        coop = await client.get_cooperative(registry["cooperative"]["id"])
    finally:
        await client.aclose()
    assert coop.id == registry["cooperative"]["id"]
    assert coop.ruc == registry["cooperative"]["ruc"]


async def test_reads_a_farmer_with_the_callers_token(
    peer: CooperativesClient, registry: dict[str, Any], token: str
) -> None:
    farmer = await peer.get_farmer(registry["farmer"]["id"], token=token)
    assert farmer.id == registry["farmer"]["id"]
    assert farmer.cooperative_id == registry["cooperative"]["id"]


async def test_reads_one_plot(peer: CooperativesClient, registry: dict[str, Any], token: str) -> None:
    plot = await peer.get_plot(registry["plots"][0]["id"], token=token)
    assert plot.id == registry["plots"][0]["id"]


async def test_get_plots_reads_many_plots_in_one_request(
    peer: CooperativesClient, transport: CountingTransport, registry: dict[str, Any], token: str
) -> None:
    ids = [p["id"] for p in registry["plots"]]
    transport.requests.clear()
    plots = await peer.get_plots(ids, token=token)
    assert sorted(p.id for p in plots) == sorted(ids)
    assert len(transport.requests) == 1
    assert transport.requests[0].url.path == "/api/v1/plots"


async def test_get_plots_asks_once_for_a_repeated_id(
    peer: CooperativesClient, transport: CountingTransport, registry: dict[str, Any], token: str
) -> None:
    plot_id = registry["plots"][0]["id"]
    transport.requests.clear()
    plots = await peer.get_plots([plot_id, plot_id, plot_id], token=token)
    assert [p.id for p in plots] == [plot_id]
    assert transport.requests[0].url.params["ids"] == plot_id


async def test_a_404_from_the_peer_becomes_not_found(peer: CooperativesClient) -> None:
    with pytest.raises(NotFound) as caught:
        await peer.get_cooperative("coop_missing")
    assert caught.value.instance_code == "not_found"


async def test_a_401_from_the_peer_becomes_unauthorized(
    peer: CooperativesClient, registry: dict[str, Any]
) -> None:
    with pytest.raises(Unauthorized):
        await peer.get_farmer(registry["farmer"]["id"], token="not-a-token")


# --- failures of the peer -------------------------------------------------------------------------


async def test_an_unreachable_peer_is_service_unavailable() -> None:
    client = CooperativesClient(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.get_cooperative("coop_any")
    finally:
        await client.aclose()
    assert caught.value.status == 503
    assert caught.value.instance_code == "cooperatives_unavailable"


async def test_a_5xx_from_the_peer_is_service_unavailable() -> None:
    failing = httpx.MockTransport(lambda request: httpx.Response(500, json={"code": "internal_error"}))
    client = CooperativesClient(base_url=PEER, transport=failing)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.get_cooperative("coop_any")
    finally:
        await client.aclose()
    assert caught.value.instance_code == "cooperatives_unavailable"


def test_a_client_needs_exactly_one_of_base_url_or_app(app: FastAPI) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        CooperativesClient()
    with pytest.raises(ValueError, match="exactly one"):
        CooperativesClient(base_url=PEER, app=app)
