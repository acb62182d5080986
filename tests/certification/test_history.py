"""A certificate's history is append-only in the database itself (migration 0001's triggers)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import Database
from tests.certification.calls import Body, certify, change
from tests.factories import Origin


async def history_rows(certification_db: Database) -> list[tuple[str, str]]:
    async with certification_db.transaction() as session:
        rows = await session.execute(
            text("SELECT action, reason FROM certificate_status_events ORDER BY recorded_at")
        )
        return [(action, reason) for action, reason in rows]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE certificate_status_events SET reason = 'edited'", "DELETE FROM certificate_status_events"],
)
async def test_the_history_of_a_certificate_cannot_be_rewritten(
    api: httpx.AsyncClient, origin: Origin, body: Body, certification_db: Database, statement: str
) -> None:
    certificate = await certify(api, body, origin)
    assert (await change(api, body, certificate["id"], "suspend")).status_code == 200
    before = await history_rows(certification_db)
    assert [action for action, _ in before] == ["issue", "suspend"]

    with pytest.raises(DBAPIError):
        async with certification_db.transaction() as session:
            await session.execute(text(statement))

    assert await history_rows(certification_db) == before
