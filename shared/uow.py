"""One transaction per request, committed before the response leaves, with ``Idempotency-Key``.

Routes and services never commit. This ASGI middleware owns the request's session: when the
endpoint has produced its answer, a success is committed (together with the stored idempotent
response) *before* the status line is sent, so a client never sees 201 for data that was not
saved; an error answer or an exception rolls everything back.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.bodies import BodyTooLarge, ClientGone, SpooledBody, limit_body
from shared.db import Database
from shared.errors import PROBLEM_MEDIA_TYPE, DomainError, problem_type
from shared.idempotency import KEY_PATTERN, Claimed, IdempotencyStore, Outcome, StoredResponse, fingerprint

logger = logging.getLogger("chacra.uow")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BOUNDARY = re.compile(rb"boundary=\"?([^\";]+)\"?")


class UnitOfWork:
    def __init__(self, db: Database, *, write: bool) -> None:
        self._db = db
        self._write = write
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            factory = self._db.write_sessions if self._write else self._db.read_sessions
            self._session = factory()
        return self._session

    @property
    def started(self) -> bool:
        return self._session is not None

    def read_only(self) -> None:
        if self._session is None:
            self._write = False

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def close(self, *, rollback: bool) -> None:
        if self._session is None:
            return
        try:
            if rollback:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None


# ``async def`` although they await nothing: FastAPI runs a plain ``def`` dependency in its thread pool,
# a hand-off to another thread and back on every request for what is an attribute lookup.
async def request_session(request: Request) -> AsyncSession:
    uow: UnitOfWork = request.state.uow
    return uow.session


async def request_read_session(request: Request) -> AsyncSession:
    """For a POST that only reads (logging in): on SQLite it must not take the single write lock."""
    uow: UnitOfWork = request.state.uow
    uow.read_only()
    return uow.session


def _no_store(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in headers)


async def _send_too_large(send: Send, limit: int) -> None:
    await _send_problem(
        send,
        413,
        "payload_too_large",
        "Body too large",
        f"The request body may be at most {limit // 2**20} MiB.",
    )


def _problem_message(status: int, code: str, title: str, detail: str) -> tuple[Message, Message]:
    body = json.dumps(
        {"type": problem_type(code), "title": title, "status": status, "code": code, "detail": detail}
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


async def _send_problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    start, body = _problem_message(status, code, title, detail)
    await send(start)
    await send(body)


class _Responder:
    """Holds the response until the transaction is settled; buffers it when it must be stored."""

    def __init__(
        self,
        send: Send,
        settle: Callable[
            [int, list[tuple[bytes, bytes]], bytes | None], Awaitable[tuple[Message, Message] | None]
        ],
        *,
        buffer: bool,
    ) -> None:
        self._send = send
        self._settle = settle
        self._buffer = buffer
        self._start: Message | None = None
        self._parts: list[bytes] = []
        self.settled = False

    @property
    def started(self) -> bool:
        return self._start is not None

    async def send(self, message: Message) -> None:
        if self.settled:
            await self._send(message)
            return
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        more = message.get("more_body", False)
        if self._buffer:
            self._parts.append(message.get("body", b""))
            if more:
                return
            body: bytes | None = b"".join(self._parts)
        elif more:
            body = None
        else:
            body = message.get("body", b"")
        self.settled = True
        replacement = await self._settle(self._start["status"], list(self._start.get("headers", [])), body)
        if replacement is not None:
            await self._send(replacement[0])
            await self._send(replacement[1])
            return
        await self._send(self._start)
        if self._buffer:
            await self._send({"type": "http.response.body", "body": body or b"", "more_body": False})
        else:
            await self._send(message)


class UnitOfWorkMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        db: Database = state.database
        store: IdempotencyStore = state.idempotency
        limit: int = state.settings.max_body_bytes
        method: str = scope["method"]
        uow = UnitOfWork(db, write=method not in SAFE_METHODS)
        scope_state: MutableMapping[str, Any] = scope.setdefault("state", {})
        scope_state["uow"] = uow

        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _send_too_large(send, limit)
            return
        receive = limit_body(receive, limit)
        key = headers.get("idempotency-key")
        claimed: Claimed | None = None
        if method == "POST" and key is not None:
            outcome = await self._claim(scope, receive, send, state, headers, key, limit)
            if outcome is None:
                return
            claimed, receive = outcome

        async def release() -> None:
            if claimed is None:
                return
            try:
                await store.release(db, claimed)
            except Exception:  # the answer must not change; the key frees itself after the lock timeout
                logger.warning(
                    "could not release an idempotency key", extra={"key": claimed.key}, exc_info=True
                )

        async def settle(
            status: int, response_headers: list[tuple[bytes, bytes]], response_body: bytes | None
        ) -> tuple[Message, Message] | None:
            if status >= 400:
                await uow.close(rollback=True)
                await release()
                return None
            # Only a success is the answer to replay: a redirect, or a token marked no-store, is not.
            storable = claimed is not None and status < 300 and not _no_store(response_headers)
            try:
                if storable and claimed is not None:
                    stored = StoredResponse(
                        status,
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response_headers],
                        response_body or b"",
                    )
                    if not await store.complete(uow.session, claimed, stored):
                        await uow.close(rollback=True)
                        return _problem_message(
                            409,
                            "idempotency_key_superseded",
                            "Request superseded",
                            "This request took so long that a retry with the same Idempotency-Key took it "
                            "over; nothing was saved by this one. Retry to get the retry's answer.",
                        )
                await uow.commit()
            except (IntegrityError, OperationalError) as exc:
                await uow.close(rollback=True)
                await release()
                logger.warning("commit failed", extra={"path": scope["path"], "error": str(exc.orig)})
                if isinstance(exc, IntegrityError):
                    return _problem_message(
                        409,
                        "conflict",
                        "Conflict",
                        "A concurrent change conflicts with this request; nothing was saved.",
                    )
                return _problem_message(
                    503,
                    "database_busy",
                    "Database busy",
                    "The database could not save this request right now; nothing was saved. "
                    "Retry with the same Idempotency-Key.",
                )
            await uow.close(rollback=False)
            if not storable:
                await release()
            return None

        responder = _Responder(send, settle, buffer=claimed is not None)
        try:
            await self.app(scope, receive, responder.send)
        except BodyTooLarge:
            if not responder.started:
                await _send_too_large(send, limit)
        except ClientGone:
            pass
        finally:
            if uow.started:
                await uow.close(rollback=True)
            if not responder.settled:
                # An exception, or an app that never answered (a stream whose client left).
                await release()

    async def _claim(
        self, scope: Scope, receive: Receive, send: Send, state: Any, headers: Headers, key: str, limit: int
    ) -> tuple[Claimed, Receive] | None:
        """Claim the key, or answer for it (replay, mismatch, in flight); ``None`` once answered."""
        if not KEY_PATTERN.match(key):
            await _send_problem(
                send,
                400,
                "invalid_idempotency_key",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
            return None
        body = SpooledBody(limit)
        boundary_match = _BOUNDARY.search(headers.get("content-type", "").encode())
        try:
            await body.read_from(receive, boundary_match.group(1) if boundary_match else None)
        except ClientGone:
            return None
        except BodyTooLarge:
            await _send_too_large(send, limit)
            return None
        owner = self._owner(state, headers)
        print_ = fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), body.digest.digest()
        )
        try:
            claim = await state.idempotency.claim(state.database, owner, key, print_)
        except OperationalError:
            await _send_problem(
                send,
                503,
                "database_busy",
                "Database busy",
                "The database is busy; nothing was done. Retry shortly.",
            )
            return None
        if claim.outcome is Outcome.REPLAY and claim.stored is not None:
            await self._replay(send, claim.stored)
            return None
        if claim.outcome is Outcome.MISMATCH:
            await _send_problem(
                send,
                422,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                "This Idempotency-Key was already used with a different request body.",
            )
            return None
        if claim.outcome is Outcome.IN_FLIGHT or claim.claimed is None:
            await _send_problem(
                send,
                409,
                "idempotency_key_in_flight",
                "Request still in progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
            return None
        return claim.claimed, body.receive

    @staticmethod
    def _owner(state: Any, headers: Headers) -> str:
        # Keys are scoped per caller, so two users can never replay each other's responses.
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                return str(state.token_verifier.verify(token).user_id)
            except DomainError:
                return "anonymous"
        return "anonymous"

    @staticmethod
    async def _replay(send: Send, stored: StoredResponse) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": stored.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": stored.body, "more_body": False})
