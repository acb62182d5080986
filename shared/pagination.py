"""Cursor (keyset) pagination: ``?limit=&cursor=`` in, ``{"items": [...], "next": ...}`` out."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, Select, and_, or_

from shared.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# A SELECT of any columns (SQLAlchemy 2.1 types a Select by its whole row).
AnySelect = Select[*tuple[Any, ...]]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="Cursor for the next page, or null on the last page.")


class PageParams(BaseModel):
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


# async although it awaits nothing: FastAPI would run a plain def in its thread pool.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next` from the previous page.")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(values: Sequence[Any]) -> str:
    payload = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.single(
            "cursor", "invalid_cursor", "The cursor is not one this API issued."
        ) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise ValidationFailed.single("cursor", "invalid_cursor", "The cursor is not one this API issued.")
    return values


def keyset(stmt: AnySelect, order: Sequence[Any], params: PageParams) -> AnySelect:
    """Order by ``order`` (ascending, unique together) and start after the cursor; fetch one extra row."""
    if params.cursor:
        raw = decode_cursor(params.cursor, len(order))
        values = [_cursor_value(col, v) for col, v in zip(order, raw, strict=True)]
        # (a, b) > (x, y) written out, since SQLite lacks row-value comparison on older versions.
        clauses = []
        for i in range(len(order)):
            prefix = [order[j] == values[j] for j in range(i)]
            clauses.append(and_(*prefix, order[i] > values[i]))
        stmt = stmt.where(or_(*clauses))
    return stmt.order_by(*order).limit(params.limit + 1)


def _cursor_value(col: Any, value: Any) -> Any:
    """A decoded cursor value in the column's Python type; anything else is a cursor we never issued."""
    invalid = ValidationFailed.single("cursor", "invalid_cursor", "The cursor is not one this API issued.")
    # A TypeDecorator (UTCDateTime) reports ``object`` as its python_type: look at the type it wraps.
    column_type = getattr(col.type, "impl", col.type)
    if isinstance(column_type, DateTime):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            # Out-of-range offsets (year 1 at +14:00) overflow only when converted to UTC.
            utc = parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else None
        except (ValueError, OverflowError):
            utc = None
        if utc is None:
            raise invalid
        return utc
    try:
        expected = column_type.python_type
    except NotImplementedError:  # SQLAlchemy's answer for a type that names no Python type
        return value  # nothing to compare against: the database judges the value
    if not isinstance(value, expected):
        raise invalid
    return value


def make_page(rows: Sequence[Any], params: PageParams, cursor_of: Any) -> tuple[list[Any], str | None]:
    """Trim the extra row and compute ``next`` from the last kept row."""
    has_more = len(rows) > params.limit
    kept = list(rows[: params.limit])
    return kept, encode_cursor(cursor_of(kept[-1])) if has_more and kept else None
