"""``Idempotency-Key`` on POST: replay, mismatch, release on failure, per-caller scope, expiry, races."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select, update

from services.cooperatives.app import create_app
from shared.auth import Principal, Role
from shared.db import Database, utcnow
from shared.idempotency import IdempotencyStore, Outcome, fingerprint
from shared.settings import Settings
from tests.conftest import make_settings
from tests.factories import cooperative_body, valid_ruc

COOPS = "/api/v1/cooperatives"
ADMIN_ID = "usr_admin"  # the user id inside `admin_headers`


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def print_of(content: bytes) -> str:
    """The fingerprint the middleware computes for a POST of ``content`` to /api/v1/cooperatives."""
    return fingerprint("POST", COOPS, b"", hashlib.sha256(content).digest())


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, key: str | None
) -> httpx.Response:
    extra = {"Content-Type": "application/json"}
    if key is not None:
        extra["Idempotency-Key"] = key
    return await client.post(COOPS, content=content, headers={**headers, **extra})


async def count_by_ruc(client: httpx.AsyncClient, ruc: str) -> int:
    response = await client.get(COOPS, params={"q": ruc})
    assert response.status_code == 200, response.text
    return sum(1 for item in response.json()["items"] if item["ruc"] == ruc)


def store_of(app: FastAPI) -> IdempotencyStore:
    store: IdempotencyStore = app.state.idempotency
    return store


# --- one process, one connection (rolled back) ------------------------------------------------


async def test_replay_returns_the_stored_response_byte_for_byte(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = cooperative_body()
    first = await post(client, admin_headers, encode(body), "replay-1")
    second = await post(client, admin_headers, encode(body), "replay-1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_by_ruc(client, body["ruc"]) == 1


async def test_same_key_with_another_body_is_rejected(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert (await post(client, admin_headers, encode(cooperative_body()), "reused-1")).status_code == 201
    other = cooperative_body()
    response = await post(client, admin_headers, encode(other), "reused-1")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "idempotency_key_reused"
    assert await count_by_ruc(client, other["ruc"]) == 0


async def test_a_failed_attempt_releases_its_key_for_a_corrected_retry(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = cooperative_body()
    bad = await post(client, admin_headers, encode({**body, "ruc": "20123456789"}), "retry-1")
    assert bad.status_code == 422, bad.text
    fixed = await post(client, admin_headers, encode(body), "retry-1")
    assert fixed.status_code == 201, fixed.text
    assert "idempotent-replayed" not in fixed.headers


async def test_keys_are_scoped_per_caller(
    client: httpx.AsyncClient, headers_for: Callable[..., dict[str, str]]
) -> None:
    alice = headers_for(Role.ADMIN, user_id="usr_alice", username="alice")
    bob = headers_for(Role.ADMIN, user_id="usr_bob", username="bob")
    first = await post(client, alice, encode(cooperative_body()), "shared-key")
    second = await post(client, bob, encode(cooperative_body()), "shared-key")
    assert first.status_code == second.status_code == 201, second.text
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", ["k" * 256, "has spaces", ""], ids=["too-long", "spaces", "empty"])
async def test_an_invalid_key_is_rejected_before_anything_runs(
    client: httpx.AsyncClient, admin_headers: dict[str, str], key: str
) -> None:
    body = cooperative_body()
    response = await post(client, admin_headers, encode(body), key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert await count_by_ruc(client, body["ruc"]) == 0


async def test_a_key_in_flight_answers_409(
    app: FastAPI, db: Database, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    content = encode(cooperative_body())
    claim = await store_of(app).claim(db, ADMIN_ID, "busy-1", print_of(content))
    assert claim.outcome is Outcome.CLAIMED
    response = await post(client, admin_headers, content, "busy-1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"


async def test_a_stale_in_flight_key_is_taken_over(
    app: FastAPI, db: Database, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    store = store_of(app)
    content = encode(cooperative_body())
    await store.claim(db, ADMIN_ID, "stale-1", print_of(content))
    t = store.table
    async with db.transaction() as session:
        await session.execute(
            update(t)
            .where(t.c.owner == ADMIN_ID, t.c.key == "stale-1")
            .values(locked_at=utcnow() - store.lock_timeout - timedelta(seconds=1))
        )
    response = await post(client, admin_headers, content, "stale-1")
    assert response.status_code == 201, response.text


async def test_purge_expired_deletes_keys_past_their_ttl(
    app: FastAPI, db: Database, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    store = store_of(app)
    assert (await post(client, admin_headers, encode(cooperative_body()), "old-1")).status_code == 201
    t = store.table
    async with db.read_sessions() as session:
        assert (await session.execute(select(t.c.key).where(t.c.key == "old-1"))).first() is not None
    purged = await store.purge_expired(db, now=utcnow() + store.ttl + timedelta(seconds=1))
    assert purged >= 1
    async with db.read_sessions() as session:
        assert (await session.execute(select(t.c.key).where(t.c.key == "old-1"))).first() is None


async def test_a_key_older_than_the_ttl_no_longer_replays(
    app: FastAPI, db: Database, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    store = store_of(app)
    content = encode(cooperative_body())
    assert (await post(client, admin_headers, content, "expired-1")).status_code == 201
    t = store.table
    async with db.transaction() as session:
        await session.execute(
            update(t).where(t.c.key == "expired-1").values(expires_at=utcnow() - timedelta(seconds=1))
        )
    again = await post(client, admin_headers, content, "expired-1")
    # Run afresh, not replayed: the cooperative now exists, so the RUC is taken.
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "ruc_taken"
    assert "idempotent-replayed" not in again.headers


async def test_keys_are_kept_seven_days_by_default(app: FastAPI) -> None:
    assert store_of(app).ttl == timedelta(days=7)


def test_the_ttl_setting_cannot_be_below_seven_days() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(idempotency_ttl_days=3)
    assert [e["loc"] for e in caught.value.errors()] == [("idempotency_ttl_days",)]


# --- real concurrent connections ----------------------------------------------------------------


@pytest.fixture
def only_sqlite(backend: str) -> Iterator[None]:
    if backend != "sqlite":
        pytest.skip("the SQLite variant of a race already checked on PostgreSQL")
    yield


@asynccontextmanager
async def real_app(url: str, signing_key_pem: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """An app with its own connection pool on ``url`` and an admin's headers for it."""
    app = create_app(make_settings(url, signing_key_pem))
    async with app.router.lifespan_context(app):
        token = app.state.token_issuer.issue(Principal(user_id=ADMIN_ID, username="admin", role=Role.ADMIN))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
            yield client, {"Authorization": f"Bearer {token}"}


async def fire_one_key_50_times(url: str, signing_key_pem: str) -> None:
    async with real_app(url, signing_key_pem) as (client, headers):
        body = cooperative_body()
        content = encode(body)
        responses = await asyncio.gather(*(post(client, headers, content, "race-1") for _ in range(50)))
        statuses = [r.status_code for r in responses]
        assert all(s in (201, 409) for s in statuses), statuses
        assert all(r.json()["code"] == "idempotency_key_in_flight" for r in responses if r.status_code == 409)
        created = [r for r in responses if r.status_code == 201]
        assert len({r.json()["id"] for r in created}) == 1
        assert len({r.content for r in created}) == 1
        assert await count_by_ruc(client, body["ruc"]) == 1


async def test_fifty_concurrent_posts_with_one_key_create_once_on_postgresql(
    only_postgres: None, fresh_database_url: str, signing_key_pem: str
) -> None:
    await fire_one_key_50_times(fresh_database_url, signing_key_pem)


async def test_fifty_concurrent_posts_with_one_key_create_once_on_sqlite(
    only_sqlite: None, fresh_database_url: str, signing_key_pem: str
) -> None:
    await fire_one_key_50_times(fresh_database_url, signing_key_pem)


async def test_concurrent_posts_of_one_ruc_without_keys_create_once(
    fresh_database_url: str, signing_key_pem: str
) -> None:
    async with real_app(fresh_database_url, signing_key_pem) as (client, headers):
        ruc = valid_ruc()
        responses = await asyncio.gather(
            *(post(client, headers, encode(cooperative_body(ruc=ruc)), None) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 19, statuses
        codes = {r.json()["code"] for r in responses if r.status_code == 409}
        assert codes <= {"ruc_taken", "conflict"}, codes
        assert await count_by_ruc(client, ruc) == 1
