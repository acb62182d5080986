"""Public routes: the provenance page and JSON, and the GS1 Digital Link resolver. No login."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.lots.public import resolver
from services.lots.public.cache import CACHE_CONTROL, Entry, PublicCache
from services.lots.public.fastpath import asks_past_caches, etag_matches, page_answer
from services.lots.public.i18n import pick_language
from services.lots.public.page import render_into, render_not_found
from services.lots.public.registry import RememberedRegistry
from services.lots.public.scans import ScanCounter
from services.lots.public.schemas import LotScans, PublicLot
from services.lots.public.service import Prefetched, lot_scans, prefetch_claims, public_entry, resolve
from shared.auth import CurrentUser
from shared.errors import NotFound, problem_responses
from shared.uow import request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]


def _headers_only_for_head(app: ASGIApp) -> ASGIApp:
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "HEAD":
            await app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await app(scope, receive, send_without_body)

    return answer


class HeadAsGetRoute(APIRoute):
    """Starlette's responses send their body whatever the method: a HEAD (link checkers, crawlers,
    GS1 resolver clients) gets the GET's status and headers, Content-Length included, and no body —
    error answers too, as they are built inside the route's ASGI app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _headers_only_for_head(self.app)


router = APIRouter(route_class=HeadAsGetRoute)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _get_and_head(path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """GET, and HEAD by the same function: GS1-Conformant resolvers SHALL answer HEAD, and FastAPI
    routes answer it only when asked. The HEAD stays out of the OpenAPI document (HTTP implies it,
    and FastAPI would give the GET and the HEAD of one route the same operation id)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["GET"], **options)
        router.add_api_route(path, endpoint, methods=["HEAD"], **{**options, "include_in_schema": False})
        return endpoint

    return register


def _base_url(request: Request) -> str:
    url: str = request.app.state.settings.public_base_url
    return url.rstrip("/")


async def public_entry_of(
    app: Starlette,
    code: str,
    *,
    check: bool = False,
    prefetched: Mapping[str, Prefetched] | None = None,
) -> Entry:
    """A lot's public entry with what the lots app holds (its cache, peers, claims): the page and
    JSON routes' and the pages built ahead's."""
    state = app.state
    registry: RememberedRegistry = state.public_registry
    cache: PublicCache = state.public_cache
    return await public_entry(
        state.database.read_sessions,
        registry,
        cache,
        code,
        public_base_url=state.settings.public_base_url.rstrip("/"),
        claims=state.public_claims,
        claims_version=getattr(state.public_claims, "version", None),
        check=check,
        prefetched=prefetched,
    )


async def claims_ahead_of(app: Starlette, codes: Sequence[str]) -> dict[str, Prefetched]:
    """The claims of many lots' pages about to be built, in one request (pages built ahead)."""
    state = app.state
    return await prefetch_claims(
        state.database.read_sessions,
        state.public_cache,
        codes,
        many=state.public_claims.many,
        claims_version=state.public_claims.version,
    )


def page_of(app: Starlette, entry: Entry, language: str) -> bytes:
    """The entry's page in ``language``, rendered at its first asking and counted in the cache."""
    page = entry.page(language)
    if page is None:
        page = render_into(entry, language)
        cache: PublicCache = app.state.public_cache
        cache.grew(entry)
    return page


async def _entry(request: Request, code: str) -> Entry:
    asked = asks_past_caches(request.headers.get("cache-control"), request.headers.get("pragma"))
    return await public_entry_of(request.app, code, check=asked)


def _cached(request: Request, entry: Entry, variant: str, body: bytes, media_type: str) -> Response:
    headers = entry.headers(variant, vary="Accept-Encoding")
    etag = headers["ETag"]
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@_get_and_head(
    "/api/v1/public/lots/{code}",
    response_model=PublicLot,
    tags=["public"],
    responses={**problem_responses(404), 304: {"description": "Not modified (If-None-Match)."}},
)
async def public_lot_json(request: Request, code: str) -> Response:
    """A lot's provenance for anyone holding the bag: origin, journey, quality, claims; nothing personal."""
    entry = await _entry(request, code)
    return _cached(request, entry, "json", entry.json, "application/json")  # gzip: the middleware


@_get_and_head(
    "/l/{code:path}",
    response_class=HTMLResponse,
    tags=["public"],
    responses={404: {"description": "A bilingual page: no lot with this code."}},
)
async def provenance_page(
    request: Request,
    code: str,
    lang: Annotated[
        str | None, Query(description="`es` or `en`; else Accept-Language, else Spanish.")
    ] = None,
) -> Response:
    """The page a buyer sees after scanning the bag's QR code (Spanish or English)."""
    try:
        entry = await _entry(request, code)
    except NotFound:
        return HTMLResponse(render_not_found(code), status_code=404)
    if lang is None and request.method == "GET":  # a HEAD (a link checker) is no scan
        # A scan opens the printed link, which never carries ?lang=; the language switch does.
        counter: ScanCounter = request.app.state.scans
        counter.record(entry.lot_id)
    language = pick_language(lang, request.headers.get("accept-language"))
    page = page_of(request.app, entry, language)
    status, fields, body = page_answer(entry, language, page, request.headers, behind_gzip=True)
    return Response(body, status_code=status, headers=fields)


_RESOLVER_RESPONSES: dict[int | str, dict[str, Any]] = {
    307: {"description": "To the link asked for (`linkType`), by default the provenance page."},
    200: {
        "description": "The RFC 9264 linkset (`linkType=all` or `Accept: application/linkset+json`).",
        "content": {resolver.LINKSET_MEDIA_TYPE: {}},
    },
    **problem_responses(400, 404),
}
LinkTypeQuery = Annotated[str | None, Query(alias="linkType")]


@_get_and_head("/01/{gtin}/10/{lot}", tags=["public"], status_code=307, responses=_RESOLVER_RESPONSES)
async def resolve_digital_link(
    request: Request, session: SessionDep, gtin: str, lot: str, link_type: LinkTypeQuery = None
) -> Response:
    """GS1 Digital Link resolver: GTIN (check digit verified) and lot → the lot's links."""
    return await _resolve_lot(request, session, link_type)


@_get_and_head(
    "/01/{gtin}/10/{lot}/21/{serial}",
    tags=["public"],
    status_code=307,
    responses=_RESOLVER_RESPONSES,
)
async def resolve_serial_digital_link(
    request: Request, session: SessionDep, gtin: str, lot: str, serial: str, link_type: LinkTypeQuery = None
) -> Response:
    """A serialised bag of a lot: GS1 resolvers fall back to the lot's links (same answers)."""
    return await _resolve_lot(request, session, link_type)


async def _resolve_lot(request: Request, session: AsyncSession, link_type: str | None) -> Response:
    item = resolver.parse_item(str(request.url))
    view = await resolve(session, item.gtin, item.lot)
    anchor = f"{_base_url(request)}/01/{item.gtin}/10/{view.lot.code}"
    links = resolver.lot_links(base_url=_base_url(request), code=view.lot.code, lot_id=view.lot.id)
    link_header = f'<{anchor}?linkType=all>; rel="linkset"; type="{resolver.LINKSET_MEDIA_TYPE}"'
    # One URL, two answers chosen by Accept: a shared cache must not hand the linkset to a browser.
    headers = {"Link": link_header, "Vary": "Accept"}
    if resolver.wants_linkset(request.headers.get("accept"), link_type):
        return JSONResponse(
            resolver.linkset(anchor, links),
            media_type=resolver.LINKSET_MEDIA_TYPE,
            headers={**headers, "Cache-Control": CACHE_CONTROL},  # the links never change
        )
    # GS1 resolver rule: a link type this item does not have falls back to the default link.
    chosen = resolver.choose(links, link_type) or resolver.choose(links, None)
    assert chosen is not None
    return RedirectResponse(chosen.href, status_code=307, headers=headers)


@_get_and_head("/01/{path:path}", tags=["public"], include_in_schema=False)
async def resolve_other(request: Request) -> Any:
    """Any other Digital Link path: malformed (400) or an item this resolver does not serve (404)."""
    resolver.parse_item(str(request.url))
    raise NotFound("This resolver knows items by GTIN and lot (/01/{gtin}/10/{lot}).", code="item_not_found")


@_get_and_head("/.well-known/gs1resolver", tags=["public"])
async def resolver_description(request: Request) -> dict[str, Any]:
    """What this GS1 Digital Link resolver serves."""
    return resolver.description(_base_url(request))


@router.get(
    "/api/v1/lots/{lot_id}/scans",
    response_model=LotScans,
    tags=["lots"],
    responses=problem_responses(401, 404),
)
async def read_lot_scans(
    session: SessionDep, request: Request, principal: CurrentUser, lot_id: str
) -> LotScans:
    """How often the lot's QR code was scanned, per day (for its cooperative and its exporter)."""
    return await lot_scans(session, principal, lot_id, counter=request.app.state.scans)
