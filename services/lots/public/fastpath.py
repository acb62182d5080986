"""A fresh cached page is sent by a plain ASGI layer: no routing, no dependencies, no session.

During a scan burst at a fair most requests are for pages already built and checked within the
revalidation window (cache.py); the FastAPI route answers everything else — a page to build or to
check again, an unknown code, other parameters — exactly as before. Answers are byte-for-byte the
route's: same ETag, Last-Modified, Cache-Control and Vary, 304 on a matching If-None-Match, gzip
when asked, and the scan is counted the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from services.lots.codes import normalise_code
from services.lots.public.cache import Entry, PublicCache
from services.lots.public.i18n import pick_language
from services.lots.public.scans import ScanCounter

PREFIX = "/l/"


@dataclass(frozen=True)
class _Route:
    path: str


# Named as the route it stands in for, so metrics and logs count its answers under the same route.
PAGE_ROUTE = _Route("/l/{code:path}")


def asks_past_caches(headers: Headers) -> bool:
    """A reload that asks past caches (Ctrl-F5, a manager checking a change)."""
    asked = f"{headers.get('cache-control', '')} {headers.get('pragma', '')}".lower()
    return "no-cache" in asked


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class PublicPageFastPath:
    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith(PREFIX)
            or not await self._served(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _served(self, scope: Scope, send: Send) -> bool:
        state = scope["app"].state
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if set(params) - {"lang"}:
            return False
        cache: PublicCache = state.public_cache
        entry = cache.get(normalise_code(scope["path"][len(PREFIX) :]))
        if entry is None or self.clock() - entry.checked_at >= state.settings.public_revalidate_seconds:
            return False
        headers = Headers(scope=scope)
        if asks_past_caches(headers):
            return False  # the route checks the ledger now
        language = pick_language(params.get("lang"), headers.get("accept-language"))
        page = entry.pages.get(language)
        if page is None:
            return False
        scope["route"] = PAGE_ROUTE
        if "lang" not in params and scope["method"] == "GET":  # a HEAD is not somebody scanning
            counter: ScanCounter = state.scans
            counter.record(entry.lot_id)
        await self._send(scope, send, entry, language, page, headers)
        return True

    @staticmethod
    async def _send(
        scope: Scope, send: Send, entry: Entry, language: str, page: bytes, headers: Headers
    ) -> None:
        status, fields, body = page_answer(entry, language, page, headers)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in fields.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() == "gzip":
            q = params.strip().removeprefix("q=")
            return not (params.strip().startswith("q=") and q.replace(".", "", 1).isdigit() and float(q) == 0)
    return False


def page_answer(
    entry: Entry, language: str, page: bytes, headers: Headers, *, behind_gzip: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a page answer — the route's and the fast path's alike.

    The gzip form has its own ETag (RFC 9110 §8.8.3: a strong tag names one representation).
    ``behind_gzip``: the route's answer passes Starlette's GZipMiddleware, which adds
    ``Vary: Accept-Encoding`` itself to an answer it did not find already encoded.
    """
    compressed = entry.gzipped_page(language) if accepts_gzip(headers.get("accept-encoding", "")) else None
    variant = f"page-{language}" + ("-gzip" if compressed is not None else "")
    fields = entry.headers(variant)
    if behind_gzip and compressed is None:
        fields["Vary"] = "Accept-Language"
    if etag_matches(headers.get("if-none-match"), fields["ETag"]):
        return 304, fields, b""
    fields["Content-Type"] = "text/html; charset=utf-8"
    body = page
    if compressed is not None:
        body = compressed
        fields["Content-Encoding"] = "gzip"
    fields["Content-Length"] = str(len(body))
    return 200, fields, body
