"""Structured logs and Prometheus metrics shared by every service."""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import secrets
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics(Collector):
    """Every request counted (service, method, route, status) and timed (service, method, route),
    exported as the counter ``chacra_http_requests_total`` and the histogram
    ``chacra_http_request_duration_seconds``.

    Plain integers bumped on the event loop, turned into Prometheus families when scraped: the
    client library's own Counter and Histogram take a lock per value and walk the buckets in
    Python, a few microseconds per request — a tenth of what a cached public page costs to send.
    Requests are only recorded from the event loop's thread.
    """

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._bounds = buckets
        # service -> method -> route -> its series: looked up with the strings the caller holds,
        # no key made per request.
        self._series: dict[str, dict[str, dict[str, _Series]]] = {}

    def record(self, service: str, method: str, route: str, status: int, seconds: float) -> None:
        try:
            series = self._series[service][method][route]
        except KeyError:
            series = (
                self._series.setdefault(service, {})
                .setdefault(method, {})
                .setdefault(route, _Series(len(self._bounds)))
            )
        statuses = series.statuses
        statuses[status] = statuses.get(status, 0) + 1
        times = series.times
        times[bisect.bisect_left(self._bounds, seconds)] += 1
        times[-1] += seconds

    def _each(self) -> Iterator[tuple[str, str, str, _Series]]:
        for service, methods in list(self._series.items()):
            for method, routes in list(methods.items()):
                for route, series in list(routes.items()):
                    yield service, method, route, series

    def collect(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            "chacra_http_requests_total",
            "HTTP requests handled.",
            labels=["service", "method", "route", "status"],
        )
        for service, method, route, series in self._each():
            for status, n in list(series.statuses.items()):
                counts.add_metric([service, method, route, str(status)], n)
        yield counts
        latency = HistogramMetricFamily(
            "chacra_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels=["service", "method", "route"],
        )
        bounds = (*map(floatToGoString, self._bounds), "+Inf")
        for service, method, route, series in self._each():
            cumulative, buckets = 0.0, []
            times = list(series.times)
            for bound, in_bucket in zip(bounds, times[:-1], strict=True):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            latency.add_metric([service, method, route], buckets, times[-1])
        yield latency


class _Series:
    """One (service, method, route)'s counts by status, and a count per latency bucket (the last one
    past every bound) followed by the sum of seconds."""

    __slots__ = ("statuses", "times")

    def __init__(self, bounds: int) -> None:
        self.statuses: dict[int, int] = {}
        self.times = [0.0] * (bounds + 2)


REQUEST_METRICS = RequestMetrics()
REGISTRY.register(REQUEST_METRICS)


class Tally(Collector):
    """A counter without labels bumped on the event loop's thread (no lock), exported as a counter."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.value)


def tally(name: str, documentation: str) -> Tally:
    """A Tally registered with the process's metrics."""
    found = Tally(name, documentation)
    REGISTRY.register(found)
    return found


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
_PROCESS_ID = secrets.token_hex(8).encode()
_REQUESTS_SEEN = itertools.count(1)


def request_id_of(scope: Scope) -> bytes:
    """The caller's X-Request-ID (a gateway's, a peer's), else a new one."""
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id" and value:
            return bytes(value)
    return new_request_id()


def new_request_id() -> bytes:
    return b"%s%016x" % (_PROCESS_ID, next(_REQUESTS_SEEN))


def record_request(
    service: str, scope: Scope, route: str, status: int, started: float, request_id: bytes
) -> None:
    """Count, time and log one answered request (the middleware's, and any layer answering before it)."""
    elapsed = time.perf_counter() - started
    method = scope["method"]
    REQUEST_METRICS.record(service, method, route, status, elapsed)
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
