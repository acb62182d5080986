"""Request bodies held for an Idempotency-Key: spooled to disk, fingerprinted, size-limited."""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any

from starlette.types import Message, Receive

SPOOL_MEMORY_BYTES = 1024 * 1024
CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class SpooledBody:
    """The request body on disk past 1 MiB, so a large CSV upload never sits whole in memory."""

    def __init__(self, limit: int) -> None:
        self.file: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
        self.digest = hashlib.sha256()
        self._limit = limit
        self._size = 0
        self._done = False

    async def read_from(self, receive: Receive, boundary: bytes | None) -> None:
        self._upstream = receive
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            self._size += len(chunk)
            if self._size > self._limit:
                raise BodyTooLarge
            self.file.write(chunk)
            if not message.get("more_body", False):
                break
        self.file.seek(0)
        self._digest_without(boundary)
        self.file.seek(0)

    def _digest_without(self, boundary: bytes | None) -> None:
        # A retried multipart upload gets a fresh random boundary; the content is what counts. The
        # last bytes of each chunk wait for the next one, so a boundary split across two is removed.
        keep = len(boundary) - 1 if boundary else 0
        pending = b""
        while chunk := self.file.read(CHUNK):
            pending = (pending + chunk).replace(boundary, b"") if boundary else chunk
            if keep and len(pending) > keep:
                self.digest.update(pending[:-keep])
                pending = pending[-keep:]
            elif not keep:
                self.digest.update(pending)
                pending = b""
        self.digest.update(pending)

    async def receive(self) -> Message:
        if self._done:
            return await self._upstream()
        chunk = self.file.read(CHUNK)
        more = self.file.tell() < self._size
        if not more:
            self._done = True
            self.file.close()
        return {"type": "http.request", "body": chunk, "more_body": more}


def limit_body(receive: Receive, limit: int) -> Receive:
    """Count the body as the app reads it; past ``limit`` bytes the request fails with 413."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return limited
