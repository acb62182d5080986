"""``Idempotency-Key`` storage: one table per service, in that service's own database.

Semantics (IETF httpapi idempotency-key draft, Stripe's behaviour): the first request with a key
claims it; a success is stored in the same transaction as the data it wrote, so a crash can never
leave data without its key or a key without its data; a replay with the same body gets the stored
response; the same key with another body is a 422; a key still in flight is a 409. A failed attempt
writes nothing and releases its key, so the client may retry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, UTCDateTime, utcnow

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
IN_FLIGHT = "in_flight"
COMPLETED = "completed"
# A key released by its holder between our INSERT and our SELECT is claimed again; a few times at most.
CLAIM_ATTEMPTS = 3


def table_name(service: str) -> str:
    return f"{service}_idempotency_keys"


def idempotency_columns() -> list[Column[Any]]:
    """Fresh column objects, shared by the model and by each service's first migration."""
    return [
        Column("owner", String(64), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_headers", JSON, nullable=True),
        Column("response_body", LargeBinary, nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("locked_at", UTCDateTime(), nullable=False),
        Column("expires_at", UTCDateTime(), nullable=False, index=True),
    ]


def idempotency_table(metadata: MetaData, service: str) -> Table:
    return Table(table_name(service), metadata, *idempotency_columns())


def fingerprint(method: str, path: str, query: bytes, body_digest: bytes) -> str:
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body_digest):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


class Outcome(Enum):
    CLAIMED = "claimed"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """A key this request holds; ``locked_at`` tells it apart from a later takeover of the same key."""

    owner: str
    key: str
    locked_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Outcome
    stored: StoredResponse | None = None
    claimed: Claimed | None = None


class IdempotencyStore:
    def __init__(self, table: Table, *, ttl: timedelta, lock_timeout: timedelta) -> None:
        self.table = table
        self.ttl = ttl
        self.lock_timeout = lock_timeout

    async def claim(self, db: Database, owner: str, key: str, print_: str) -> Claim:
        """One INSERT … ON CONFLICT DO NOTHING; the existing row is read only when there is one."""
        t = self.table
        now = utcnow()
        async with db.transaction() as session:
            for _ in range(CLAIM_ATTEMPTS):
                inserted = await session.execute(self._insert_claim(db, owner, key, print_, now))
                if inserted.first() is not None:
                    return Claim(Outcome.CLAIMED, claimed=Claimed(owner, key, now))
                row = (
                    (await session.execute(select(t).where(t.c.owner == owner, t.c.key == key)))
                    .mappings()
                    .first()
                )
                if row is None:
                    continue  # released between our insert and our read: claim it again
                if row["expires_at"] <= now:
                    await session.execute(
                        delete(t).where(t.c.owner == owner, t.c.key == key, t.c.expires_at <= now)
                    )
                    continue
                return await self._existing(session, row, owner, key, print_, now)
        # Claimed and released by others again and again under our feet: say so, the client retries.
        return Claim(Outcome.IN_FLIGHT)

    def _insert_claim(self, db: Database, owner: str, key: str, print_: str, now: datetime) -> Any:
        dialect_insert = sqlite_insert if db.is_sqlite else postgresql_insert
        return (
            dialect_insert(self.table)
            .values(
                owner=owner,
                key=key,
                fingerprint=print_,
                state=IN_FLIGHT,
                created_at=now,
                locked_at=now,
                expires_at=now + self.ttl,
            )
            .on_conflict_do_nothing(index_elements=[self.table.c.owner, self.table.c.key])
            .returning(self.table.c.owner)
        )

    async def _existing(
        self, session: AsyncSession, row: Any, owner: str, key: str, print_: str, now: datetime
    ) -> Claim:
        """The answer for a key already held: mismatch, replay, takeover of a stale claim, or in flight."""
        t = self.table
        if row["fingerprint"] != print_:
            return Claim(Outcome.MISMATCH)
        if row["state"] == COMPLETED:
            return Claim(
                Outcome.REPLAY,
                StoredResponse(
                    row["status_code"],
                    [(str(k), str(v)) for k, v in row["response_headers"] or []],
                    row["response_body"] or b"",
                ),
            )
        if row["locked_at"] <= now - self.lock_timeout:
            # The process that claimed it died mid-request; take the key over, once.
            taken = await session.execute(
                update(t)
                .where(t.c.owner == owner, t.c.key == key, t.c.locked_at == row["locked_at"])
                .values(locked_at=now)
            )
            if getattr(taken, "rowcount", 0) == 1:
                return Claim(Outcome.CLAIMED, claimed=Claimed(owner, key, now))
        return Claim(Outcome.IN_FLIGHT)

    async def complete(self, session: AsyncSession, claimed: Claimed, response: StoredResponse) -> bool:
        """Store the answer in the request's transaction; False when a retry took the key over."""
        t = self.table
        result = await session.execute(
            update(t)
            .where(*self._held(claimed))
            .values(
                state=COMPLETED,
                status_code=response.status_code,
                response_headers=[list(h) for h in response.headers],
                response_body=response.body,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def release(self, db: Database, claimed: Claimed) -> None:
        async with db.transaction() as session:
            await session.execute(delete(self.table).where(*self._held(claimed)))

    def _held(self, claimed: Claimed) -> list[Any]:
        t = self.table
        return [
            t.c.owner == claimed.owner,
            t.c.key == claimed.key,
            t.c.state == IN_FLIGHT,
            t.c.locked_at == claimed.locked_at,
        ]

    async def purge_expired(self, db: Database, *, now: datetime | None = None) -> int:
        t = self.table
        async with db.transaction() as session:
            result = await session.execute(delete(t).where(t.c.expires_at <= (now or utcnow())))
            return int(getattr(result, "rowcount", 0) or 0)


def document_idempotency(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the ``Idempotency-Key`` header on every POST of an OpenAPI document."""
    parameter = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Any unique string (1-255 visible ASCII characters), e.g. a UUID. Retrying with the same key "
            "and body returns the first answer; another body gives 422; a request still running, 409. "
            "Kept at least 7 days."
        ),
        "schema": {"type": "string", "maxLength": 255},
    }
    for path_item in schema.get("paths", {}).values():
        operation = path_item.get("post")
        if isinstance(operation, dict):
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                parameters.append(parameter)
    return schema
