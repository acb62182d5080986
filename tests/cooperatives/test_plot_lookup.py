"""POST /api/v1/plots/lookup: many plots by id in one read, with the visibility of GET /plots."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.factories import create_origin

LOOKUP = "/api/v1/plots/lookup"


async def test_a_lookup_answers_every_known_plot_in_one_call(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: Callable[..., dict[str, str]]
) -> None:
    first = await create_origin(api, admin_headers, headers_for)
    second = await create_origin(api, admin_headers, headers_for)
    ids = [first.plot["id"], second.plot["id"], "plot_unknown"]

    by_admin = await api.post(LOOKUP, json={"ids": ids}, headers=admin_headers)
    by_certifier = await api.post(
        LOOKUP, json={"ids": ids}, headers=headers_for("certifier", certifying_body_id="cb")
    )
    by_manager = await api.post(LOOKUP, json={"ids": ids}, headers=first.headers)

    assert by_admin.status_code == 200, by_admin.text
    assert sorted(p["id"] for p in by_admin.json()["items"]) == sorted(ids[:2])
    assert by_admin.json()["items"][0]["geometry"]["type"] == "Polygon"
    assert sorted(p["id"] for p in by_certifier.json()["items"]) == sorted(ids[:2])
    assert [p["id"] for p in by_manager.json()["items"]] == [first.plot["id"]]


async def test_exporters_do_not_read_the_registry(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: Callable[..., dict[str, str]]
) -> None:
    origin = await create_origin(api, admin_headers, headers_for)

    response = await api.post(
        LOOKUP, json={"ids": [origin.plot["id"]]}, headers=headers_for("exporter", organization="X SAC")
    )

    assert (response.status_code, response.json()["code"]) == (403, "role_required")
    assert (await api.post(LOOKUP, json={"ids": [origin.plot["id"]]})).status_code == 401


async def test_a_lookup_takes_at_most_10000_ids(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await api.post(
        LOOKUP, json={"ids": [f"plot_{i}" for i in range(10_001)]}, headers=admin_headers
    )

    assert response.status_code == 422
