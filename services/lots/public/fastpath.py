"""A fresh cached page is sent before anything else runs: no middleware, routing, dependencies or
session (shared.web.ServiceApp's front layer).

During a scan burst at a fair most requests are for pages already built that the change watch
vouches for (cache.py, watch.py); the FastAPI route answers everything else — a page to build or to
check again, an unknown code, other parameters — exactly as before. Answers are byte-for-byte the
route's: same ETag, Last-Modified, Cache-Control and Vary, 304 on a matching If-None-Match, gzip
when asked, and the scan is counted the same way. What the bypassed middleware does — X-Request-ID,
the request's metrics and access log line — is done here too.
"""

from __future__ import annotations

import time
from functools import lru_cache
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Scope, Send

from services.lots.codes import normalise_code
from services.lots.public.cache import VARIANT_TAGS, Entry, PublicCache
from services.lots.public.i18n import LANGUAGES, pick_language
from services.lots.public.scans import ScanCounter
from shared.observability import new_request_id, record_request, tally

PREFIX = "/l/"
FROM_MEMORY = tally(
    "chacra_public_pages_from_memory_total",
    "Public page requests answered from memory, before routing (the rest of /l/ went to the route).",
)
# Counted under the route it stands in for, so metrics and logs show one route.
PAGE_ROUTE = "/l/{code:path}"


def asks_past_caches(cache_control: str | None, pragma: str | None) -> bool:
    """A reload that asks past caches (Ctrl-F5, a manager checking a change)."""
    return "no-cache" in f"{cache_control or ''} {pragma or ''}".lower()


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class PublicPageFastPath:
    """The front layer of the lots service for ``/l/{code}``; holds the cache and scan counter it
    answers from (the app's state is not looked up per request)."""

    def __init__(self, service: str, cache: PublicCache, scans: ScanCounter) -> None:
        self.service = service
        self.cache = cache
        self.scans = scans

    async def answer(self, app: FastAPI, scope: Scope, send: Send) -> bool:
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            return False
        method: str = scope["method"]
        if method != "GET" and method != "HEAD":
            return False
        started = time.perf_counter()
        lang = None
        query: bytes = scope.get("query_string", b"")
        if query:
            params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
            if set(params) - {"lang"}:
                return False
            lang = params.get("lang")
        cache = self.cache
        code = path[len(PREFIX) :]
        entry = cache.get(code) or cache.get(normalise_code(code))  # as printed, else as typed
        if entry is None or not cache.fresh(entry):
            return False
        headers = _read_headers(scope)
        if (b"cache-control" in headers or b"pragma" in headers) and asks_past_caches(
            _text(headers.get(b"cache-control")), _text(headers.get(b"pragma"))
        ):
            return False  # the route checks the ledger now
        language = pick_language(lang, _text(headers.get(b"accept-language")))
        if not entry.has_page(language):
            return False  # not rendered in this language yet: the route renders it
        if lang is None and method == "GET":  # a HEAD is not somebody scanning
            self.scans.record(entry.lot_id)
        compressed = None
        if b"accept-encoding" in headers and accepts_gzip(headers[b"accept-encoding"].decode("latin-1")):
            compressed = entry.gzipped_page(language)
        body = compressed if compressed is not None else entry.page(language)
        assert body is not None  # read with no await since has_page
        tag = entry.raw_etag(_VARIANTS[language, compressed is not None])
        request_id = headers.get(b"x-request-id") or new_request_id()
        if b"if-none-match" in headers and etag_matches(
            headers[b"if-none-match"].decode("latin-1"), tag.decode("latin-1")
        ):
            status = 304
            fields = entry.raw_not_modified(tag, request_id)
            await send({"type": "http.response.start", "status": 304, "headers": fields})
            await send({"type": "http.response.body", "body": b""})
        else:
            status = 200
            fields = entry.raw_ok(tag, len(body), request_id, gzipped=compressed is not None)
            await send({"type": "http.response.start", "status": 200, "headers": fields})
            await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        FROM_MEMORY.inc()
        record_request(self.service, scope, PAGE_ROUTE, status, started, request_id)
        return True


_VARIANTS = {
    (language, zipped): VARIANT_TAGS[f"page-{language}" + ("-gzip" if zipped else "")]
    for language in LANGUAGES
    for zipped in (False, True)
}
_READ = frozenset(
    (b"cache-control", b"pragma", b"accept-language", b"accept-encoding", b"if-none-match", b"x-request-id")
)


def _read_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request headers the page answer depends on, in one pass (the first of each, as Starlette)."""
    found: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key in _READ and key not in found and (value or key != b"x-request-id"):  # empty: no id
            found[key] = value
    return found


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


@lru_cache(maxsize=256)
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
