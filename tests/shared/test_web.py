from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from services.cooperatives import service
from shared.observability import JsonFormatter
from tests.factories import create_cooperative


async def test_large_answers_are_gzipped_for_slow_links(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for _ in range(6):
        await create_cooperative(client, admin_headers)
    response = await client.get("/api/v1/cooperatives?limit=100", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["items"]) >= 6


async def test_every_post_documents_the_idempotency_key_header(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    posts = [op for item in paths.values() for method, op in item.items() if method == "post"]
    assert posts
    for operation in posts:
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in names, operation["operationId"]


def test_json_logs_carry_extra_fields_and_no_terminal_escapes() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Uvicorn running on %s", ("x",), None
    )
    record.color_message = "\x1b[1mUvicorn\x1b[0m"
    record.service = "cooperatives"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "Uvicorn running on x"
    assert entry["service"] == "cooperatives"
    assert "color_message" not in entry


async def test_a_busy_database_answers_503_with_retry_after_and_writes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = service.create_cooperative

    async def locked(*args: Any, **kwargs: Any) -> Any:
        await original(*args, **kwargs)
        raise OperationalError("INSERT …", {}, Exception("database is locked"))

    monkeypatch.setattr(service, "create_cooperative", locked)
    body = {
        "name": "Bloqueada",
        "ruc": "20123456786",
        "kind": "cooperative",
        "ubigeo": "221001",
        "products": ["cacao"],
    }
    response = await client.post("/api/v1/cooperatives", json=body, headers=admin_headers)
    assert response.status_code == 503
    assert response.json()["code"] == "database_busy"
    assert response.headers["retry-after"] == "2"
    listed = await client.get("/api/v1/cooperatives?q=bloqueada")
    assert listed.json()["items"] == []


async def test_api_docs_load_their_scripts_from_this_server_not_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
