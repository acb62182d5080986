"""Structured logs and Prometheus metrics shared by every service."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import sys
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "chacra_http_requests_total", "HTTP requests handled.", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "chacra_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
access_log = logging.getLogger("chacra.access")
# uvicorn adds a `color_message` with terminal escapes to its records: not for a JSON log.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn.access",):
        logging.getLogger(name).disabled = True


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# A new request id: this process's random half and a counter — 32 hex digits like uuid4().hex,
# unique across processes, without asking the kernel for randomness on every request.
_PROCESS_ID = secrets.token_hex(8)
_REQUESTS_SEEN = itertools.count(1)


def request_id_of(scope: Scope) -> bytes:
    """The caller's X-Request-ID (a gateway's, a peer's), else a new one."""
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            return bytes(value)
    return f"{_PROCESS_ID}{next(_REQUESTS_SEEN):016x}".encode()


@cache
def _series(service: str, method: str, route: str, status: int) -> tuple[Any, Any]:
    """The counter and histogram of one (service, method, route, status): routes are templates, so
    the set is bounded; looked up once instead of through the client's locked label lookup."""
    return (
        REQUESTS.labels(service, method, route, str(status)),
        LATENCY.labels(service, method, route),
    )


def record_request(
    service: str, scope: Scope, route: str, status: int, started: float, request_id: bytes
) -> None:
    """Count, time and log one answered request (the middleware's, and any layer answering before it)."""
    elapsed = time.perf_counter() - started
    method = scope["method"]
    count, latency = _series(service, method, route, status)
    count.inc()
    latency.observe(elapsed)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "service": service,
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "request_id": request_id.decode("latin-1"),
            },
        )


class ObservabilityMiddleware:
    """Counts and times every request, logs one structured line per request, tags it with an id."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            record_request(self.service, scope, route, status, started, request_id)
