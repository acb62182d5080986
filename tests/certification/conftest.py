"""Fixtures of the certification tests: a cooperative's origin with an organic plot, and a certifying body."""

from __future__ import annotations

import httpx
import pytest

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
