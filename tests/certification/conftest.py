"""Fixtures of the certification tests: a cooperative's origin with an organic plot, a certifying body,
and a count of the requests the service sends its peers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from deploy.allinone import AllInOne
from tests.certification.calls import Body, HeadersFor, create_body, new_plot
from tests.factories import Origin, create_origin


@pytest.fixture
async def origin(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Origin:
    """A cooperative, its manager and a farmer whose plot finished conversion long ago."""
    origin = await create_origin(api, admin_headers, headers_for)
    origin.plot = await new_plot(api, origin)
    return origin


@pytest.fixture
async def body(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Body:
    return await create_body(api, admin_headers, headers_for)


@pytest.fixture
def peer_requests(platform: AllInOne) -> Iterator[Counter[str]]:
    """Requests the certification service sends, by peer and path (without ids)."""
    counted: Counter[str] = Counter()
    peers = platform.apps["certification"].state.peers
    hooks = []
    for name, client in (("lots", peers.lots), ("cooperatives", peers.cooperatives)):

        async def count(request: httpx.Request, name: str = name) -> None:
            counted[f"{name} {request.method}"] += 1

        client._http.event_hooks["request"].append(count)
        hooks.append((client, count))
    yield counted
    for client, count in hooks:
        client._http.event_hooks["request"].remove(count)
