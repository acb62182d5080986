"""Fixtures of the lot-ledger tests: a cooperative's origin (manager, farmer, plot) and a delivered lot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Origin, create_origin, deliver
from tests.lots.calls import HeadersFor


@pytest.fixture
async def origin(api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor) -> Origin:
    return await create_origin(api, admin_headers, headers_for)


@pytest.fixture
async def lot(api: httpx.AsyncClient, origin: Origin) -> dict[str, Any]:
    return await deliver(api, origin, "100")
