"""Public routes: the provenance page and JSON, and the GS1 Digital Link resolver. No login."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives.client import CooperativesClient
from services.lots.public import resolver
from services.lots.public.cache import CACHE_CONTROL, Entry, PublicCache
from services.lots.public.fastpath import etag_matches, page_answer
from services.lots.public.i18n import pick_language
from services.lots.public.page import render_lot, render_not_found
from services.lots.public.scans import ScanCounter
from services.lots.public.schemas import LotScans, PublicLot
from services.lots.public.service import lot_scans, public_entry, resolve
from shared.auth import CurrentUser
from shared.errors import NotFound, problem_responses
from shared.uow import request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
router = APIRouter()


def _base_url(request: Request) -> str:
    url: str = request.app.state.settings.public_base_url
    return url.rstrip("/")


async def _entry(request: Request, session: AsyncSession, code: str) -> Entry:
    cooperatives: CooperativesClient = request.app.state.cooperatives
    cache: PublicCache = request.app.state.public_cache
    return await public_entry(
        session,
        cooperatives,
        cache,
        code,
        public_base_url=_base_url(request),
        claims=request.app.state.public_claims,
        revalidate_seconds=0.0 if _reload(request) else request.app.state.settings.public_revalidate_seconds,
    )


def _reload(request: Request) -> bool:
    """A reload that asks past caches (Ctrl-F5, a manager checking a change) checks the ledger now."""
    asked = f"{request.headers.get('cache-control', '')} {request.headers.get('pragma', '')}".lower()
    return "no-cache" in asked


def _cached(request: Request, entry: Entry, variant: str, body: bytes, media_type: str) -> Response:
    headers = entry.headers(variant, vary="Accept-Encoding")
    etag = headers["ETag"]
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get(
    "/api/v1/public/lots/{code}",
    response_model=PublicLot,
    tags=["public"],
    responses={**problem_responses(404), 304: {"description": "Not modified (If-None-Match)."}},
)
async def public_lot_json(request: Request, session: SessionDep, code: str) -> Response:
    """A lot's provenance for anyone holding the bag: origin, journey, quality, claims; nothing personal."""
    entry = await _entry(request, session, code)
    if entry.json is None:
        entry.json = entry.lot.model_dump_json().encode()
    return _cached(request, entry, "json", entry.json, "application/json")  # gzip: the middleware


@router.get(
    "/l/{code:path}",
    response_class=HTMLResponse,
    tags=["public"],
    responses={404: {"description": "A bilingual page: no lot with this code."}},
)
async def provenance_page(
    request: Request,
    session: SessionDep,
    code: str,
    lang: Annotated[
        str | None, Query(description="`es` or `en`; else Accept-Language, else Spanish.")
    ] = None,
) -> Response:
    """The page a buyer sees after scanning the bag's QR code (Spanish or English)."""
    try:
        entry = await _entry(request, session, code)
    except NotFound:
        return HTMLResponse(render_not_found(code), status_code=404)
    if lang is None:
        # A scan opens the printed link, which never carries ?lang=; the language switch does.
        counter: ScanCounter = request.app.state.scans
        counter.record(entry.lot_id)
    language = pick_language(lang, request.headers.get("accept-language"))
    page = entry.pages.get(language)
    if page is None:
        lot = entry.lot
        # Same-origin paths: the page names no other host, not even the configured public origin.
        page = render_lot(
            lot,
            language,
            json_url=f"/api/v1/public/lots/{lot.code}",
            linkset_url=f"/01/{lot.gtin}/10/{lot.code}?linkType=all" if lot.gtin else None,
        ).encode()
        entry.pages[language] = page
    status, fields, body = page_answer(entry, language, page, request.headers, behind_gzip=True)
    return Response(body, status_code=status, headers=fields)


def _wants_linkset(request: Request, link_type: str | None) -> bool:
    return link_type == "all" or resolver.LINKSET_MEDIA_TYPE in request.headers.get("accept", "")


@router.get(
    "/01/{gtin}/10/{lot}",
    tags=["public"],
    status_code=307,
    responses={
        307: {"description": "To the link asked for (`linkType`), by default the provenance page."},
        200: {
            "description": "The RFC 9264 linkset (`linkType=all` or `Accept: application/linkset+json`).",
            "content": {resolver.LINKSET_MEDIA_TYPE: {}},
        },
        **problem_responses(400, 404),
    },
)
async def resolve_digital_link(
    request: Request,
    session: SessionDep,
    gtin: str,
    lot: str,
    link_type: Annotated[str | None, Query(alias="linkType")] = None,
) -> Response:
    """GS1 Digital Link resolver: GTIN (check digit verified) and lot → the lot's links."""
    item = resolver.parse_item(str(request.url))
    view = await resolve(session, item.gtin, item.lot)
    anchor = f"{_base_url(request)}/01/{item.gtin}/10/{view.lot.code}"
    links = resolver.lot_links(base_url=_base_url(request), code=view.lot.code, lot_id=view.lot.id)
    link_header = f'<{anchor}?linkType=all>; rel="linkset"; type="{resolver.LINKSET_MEDIA_TYPE}"'
    if _wants_linkset(request, link_type):
        return JSONResponse(
            resolver.linkset(anchor, links),
            media_type=resolver.LINKSET_MEDIA_TYPE,
            headers={"Link": link_header, "Cache-Control": CACHE_CONTROL},  # the links never change
        )
    # GS1 resolver rule: a link type this item does not have falls back to the default link.
    chosen = resolver.choose(links, link_type) or resolver.choose(links, None)
    assert chosen is not None
    return RedirectResponse(chosen.href, status_code=307, headers={"Link": link_header})


@router.get("/01/{path:path}", tags=["public"], include_in_schema=False)
async def resolve_other(request: Request) -> Any:
    """Any other Digital Link path: malformed (400) or an item this resolver does not serve (404)."""
    resolver.parse_item(str(request.url))
    raise NotFound("This resolver knows items by GTIN and lot (/01/{gtin}/10/{lot}).", code="item_not_found")


@router.get("/.well-known/gs1resolver", tags=["public"])
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
