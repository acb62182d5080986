"""One transaction per request, committed before the response leaves, with ``Idempotency-Key``.

Routes and services never commit. This ASGI middleware owns the request's session: when the
endpoint has produced its answer, a success is committed (together with the stored idempotent
response) *before* the status line is sent, so a client never sees 201 for data that was not
saved; an error answer or an exception rolls everything back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import Database
from shared.errors import PROBLEM_MEDIA_TYPE, DomainError, problem_type
from shared.idempotency import KEY_PATTERN, IdempotencyStore, Outcome, StoredResponse, fingerprint

logger = logging.getLogger("chacra.uow")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SPOOL_MEMORY_BYTES = 1024 * 1024
CHUNK = 64 * 1024
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


def request_session(request: Request) -> AsyncSession:
    uow: UnitOfWork = request.state.uow
    return uow.session


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


class _SpooledBody:
    """The request body on disk past 1 MiB, so a large CSV upload never sits whole in memory."""

    def __init__(self) -> None:
        self.file: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
        self.digest = hashlib.sha256()

    async def read_from(self, receive: Receive, boundary: bytes | None) -> None:
        self._upstream = receive
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client disconnected while sending the body")
            chunk: bytes = message.get("body", b"")
            self.file.write(chunk)
            if not message.get("more_body", False):
                break
        self._size = self.file.tell()
        self.file.seek(0)
        # A retried multipart upload gets a fresh random boundary; the content is what counts.
        while chunk := self.file.read(CHUNK):
            self.digest.update(chunk.replace(boundary, b"") if boundary else chunk)
        self.file.seek(0)
        self._done = False

    async def receive(self) -> Message:
        if self._done:
            return await self._upstream()
        chunk = self.file.read(CHUNK)
        more = self.file.tell() < self._size
        if not more:
            self._done = True
            self.file.close()
        return {"type": "http.request", "body": chunk, "more_body": more}


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
        method: str = scope["method"]
        uow = UnitOfWork(db, write=method not in SAFE_METHODS)
        scope_state: MutableMapping[str, Any] = scope.setdefault("state", {})
        scope_state["uow"] = uow

        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        claimed: tuple[str, str] | None = None
        if method == "POST" and key is not None:
            if not KEY_PATTERN.match(key):
                await _send_problem(
                    send,
                    400,
                    "invalid_idempotency_key",
                    "Invalid Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                )
                return
            body = _SpooledBody()
            boundary_match = _BOUNDARY.search(headers.get("content-type", "").encode())
            await body.read_from(receive, boundary_match.group(1) if boundary_match else None)
            owner = self._owner(state, headers)
            print_ = fingerprint(method, scope["path"], scope.get("query_string", b""), body.digest.digest())
            claim = await store.claim(db, owner, key, print_)
            if claim.outcome is Outcome.REPLAY and claim.stored is not None:
                await self._replay(send, claim.stored)
                return
            if claim.outcome is Outcome.MISMATCH:
                await _send_problem(
                    send,
                    422,
                    "idempotency_key_reused",
                    "Idempotency-Key reused",
                    "This Idempotency-Key was already used with a different request body.",
                )
                return
            if claim.outcome is Outcome.IN_FLIGHT:
                await _send_problem(
                    send,
                    409,
                    "idempotency_key_in_flight",
                    "Request still in progress",
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                )
                return
            claimed = (owner, key)
            receive = body.receive

        async def settle(
            status: int, response_headers: list[tuple[bytes, bytes]], response_body: bytes | None
        ) -> tuple[Message, Message] | None:
            if status >= 400:
                await uow.close(rollback=True)
                if claimed:
                    await store.release(db, *claimed)
                return None
            try:
                if claimed:
                    stored = StoredResponse(
                        status,
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response_headers],
                        response_body or b"",
                    )
                    await store.complete(uow.session, claimed[0], claimed[1], stored)
                await uow.commit()
            except (IntegrityError, OperationalError) as exc:
                await uow.close(rollback=True)
                if claimed:
                    await store.release(db, *claimed)
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
            return None

        responder = _Responder(send, settle, buffer=claimed is not None)
        try:
            await self.app(scope, receive, responder.send)
        except BaseException:
            await uow.close(rollback=True)
            if claimed and not responder.settled:
                await store.release(db, *claimed)
            raise
        finally:
            if uow.started:
                await uow.close(rollback=True)

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
