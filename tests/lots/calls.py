"""Calls the lot-ledger tests share: posting events, reading lots and timelines, reading errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from deploy.allinone import AllInOne
from services.lots.public.cache import Entry, PublicCache
from services.lots.public.service import public_entry
from services.lots.public.store import Blobs
from shared.db import utcnow

HeadersFor = Callable[..., dict[str, str]]
LOTS = "/api/v1/lots"


def parsed(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def error_codes(response: httpx.Response) -> set[str]:
    return {e["code"] for e in response.json().get("errors", [])} | {response.json()["code"]}


def field_errors(response: httpx.Response) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in response.json().get("errors", [])}


async def post_event(
    api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, **body: Any
) -> httpx.Response:
    return await api.post(f"{LOTS}/{lot_id}/events", json=body, headers=headers)


async def event(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, **body: Any) -> dict[str, Any]:
    response = await post_event(api, headers, lot_id, **body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def get_lot(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str) -> Any:
    response = await api.get(f"{LOTS}/{lot_id}", headers=headers)
    assert response.status_code == 200, response.text
    return parsed(response)


async def timeline(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"{LOTS}/{lot_id}/events", headers=headers, params={"limit": 500})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def split(api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, *kgs: str) -> httpx.Response:
    body = {"outputs": [{"quantity_kg": kg} for kg in kgs]}
    return await api.post(f"{LOTS}/{lot_id}/split", json=body, headers=headers)


async def correct(
    api: httpx.AsyncClient, headers: dict[str, str], lot_id: str, wrong_id: str, **body: Any
) -> httpx.Response:
    body = {"type": "correction", "corrects_event_id": wrong_id, "explanation": "mistyped", **body}
    return await api.post(f"{LOTS}/{lot_id}/events", json=body, headers=headers)


async def cached_entry(platform: AllInOne, cache: PublicCache, code: str, **sources: Any) -> Entry:
    """A lot's public entry through ``cache``, as the page route gets it (claims sources as given)."""
    lots_app = platform.apps["lots"]
    return await public_entry(
        lots_app.state.database.read_sessions,
        lots_app.state.cooperatives,
        cache,
        code,
        public_base_url="https://chacra.example",
        **sources,
    )


def page_entry(code: str, page: bytes, *, json: bytes = b"{}") -> Entry:
    """An entry of a lot ``code`` with its Spanish page, as a build leaves it (before the cache)."""
    entry = Entry(
        facts="v",
        checked_key="v",
        lot_id=f"lot_{code}",
        code=code,
        gtin=None,
        updated_at=utcnow(),
        blobs=Blobs(json=json),
        checked_at=0.0,
    )
    entry.add_page("es", page)
    return entry
