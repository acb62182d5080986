"""Edges of the unit of work and Idempotency-Key found in review: each once answered wrongly."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.cooperatives.app import create_app
from shared.bodies import SpooledBody
from shared.db import Database, utcnow
from shared.idempotency import IdempotencyStore, Outcome, StoredResponse
from shared.settings import Settings
from tests.conftest import make_settings
from tests.factories import cooperative_body

Headers = dict[str, str]


def store_of(app: FastAPI) -> IdempotencyStore:
    store: IdempotencyStore = app.state.idempotency
    return store


async def test_a_redirect_is_not_stored_as_the_answer_to_a_key(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    body = cooperative_body()
    headers = {**admin_headers, "Idempotency-Key": "slash-1"}
    redirected = await client.post("/api/v1/cooperatives/", json=body, headers=headers)
    assert redirected.status_code == 307
    created = await client.post("/api/v1/cooperatives", json=body, headers=headers)
    assert created.status_code == 201, created.text


async def test_a_login_is_never_replayed_from_storage(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    user = {"username": "ana.export", "password": "una-clave-larga", "role": "exporter"}
    assert (await client.post("/api/v1/users", json=user, headers=admin_headers)).status_code == 201
    form = {"username": "ana.export", "password": "una-clave-larga"}
    first = await client.post("/api/v1/auth/token", data=form, headers={"Idempotency-Key": "login-1"})
    second = await client.post("/api/v1/auth/token", data=form, headers={"Idempotency-Key": "login-1"})
    assert first.status_code == second.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert "idempotent-replayed" not in second.headers
    assert first.json()["access_token"] != second.json()["access_token"]


async def test_a_failed_release_does_not_change_the_answer(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(store_of(app), "release", broken)
    response = await client.post(
        "/api/v1/cooperatives",
        json=cooperative_body(ruc="20131312950"),
        headers={**admin_headers, "Idempotency-Key": "bad-ruc-1"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "ruc_invalid"


async def test_a_request_whose_key_was_taken_over_cannot_store_its_answer(app: FastAPI, db: Database) -> None:
    store = store_of(app)
    first = await store.claim(db, "usr_1", "slow-1", "f" * 64)
    assert first.outcome is Outcome.CLAIMED and first.claimed is not None
    async with db.transaction() as session:
        await session.execute(
            update(store.table).values(locked_at=utcnow() - store.lock_timeout - timedelta(seconds=1))
        )
    second = await store.claim(db, "usr_1", "slow-1", "f" * 64)
    assert second.outcome is Outcome.CLAIMED
    async with db.transaction() as session:
        stale = await store.complete(session, first.claimed, StoredResponse(201, [], b"{}"))
    assert stale is False


@pytest.fixture
async def small_app(database_url: str, signing_key_pem: str, db: Database) -> AsyncIterator[FastAPI]:
    settings: Settings = make_settings(database_url, signing_key_pem, max_body_bytes=4096)
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize("key", [None, "big-1"])
async def test_a_body_over_the_limit_is_413_before_anything_runs(
    small_app: FastAPI, admin_headers: Headers, key: str | None
) -> None:
    headers = {**admin_headers, **({"Idempotency-Key": key} if key else {})}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small_app), base_url="http://t") as client:
        response = await client.post(
            "/api/v1/cooperatives", content=b'{"name": "' + b"x" * 8000 + b'"}', headers=headers
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_a_multipart_boundary_split_across_chunks_does_not_change_the_fingerprint() -> None:
    content = b"name,ruc\r\n" + b"x" * (65_536 - 110)

    def multipart(boundary: bytes) -> bytes:
        head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        # Pad so the closing boundary straddles the 64 KiB chunk edge for one boundary only.
        return head + content + b"\r\n--" + boundary + b"--\r\n"

    async def digest(boundary: bytes) -> str:
        raw = multipart(boundary)
        stream = io.BytesIO(raw)

        async def receive() -> dict[str, Any]:
            chunk = stream.read(10_000)
            return {"type": "http.request", "body": chunk, "more_body": stream.tell() < len(raw)}

        body = SpooledBody(10**8)
        await body.read_from(receive, boundary)
        return body.digest.hexdigest()

    assert await digest(b"a" * 30) == await digest(b"b" * 45) == await digest(b"c" * 70)
    assert await digest(b"a" * 30) != hashlib.sha256(b"").hexdigest()


async def test_a_cursor_with_an_impossible_date_is_422_not_500(client: httpx.AsyncClient) -> None:
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(["0001-01-01T00:00:00+14:00", "x"]).encode()).decode()
    response = await client.get(f"/api/v1/cooperatives?cursor={cursor}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_cursor"
