"""The lots service: the ledger of deliveries, transformations, merges, splits, shipments and fairs."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.cooperatives.client import CooperativesClient
from services.lots.api import router
from services.lots.models import SERVICE, idempotency_keys
from services.lots.public.api import claims_ahead_of, page_of, public_entry_of
from services.lots.public.api import router as public_router
from services.lots.public.cache import PublicCache
from services.lots.public.claims import CertificationClaims
from services.lots.public.fastpath import PublicPageFastPath
from services.lots.public.i18n import LANGUAGES
from services.lots.public.registry import RememberedRegistry
from services.lots.public.scans import ScanCounter
from services.lots.public.store import PageStore
from services.lots.public.warm import PageWarmer
from services.lots.public.watch import ChangeWatch
from shared.db import Database
from shared.settings import Settings, get_settings
from shared.web import create_service_app

logger = logging.getLogger("chacra.public")


def cooperatives_client(settings: Settings, peers: Mapping[str, ASGIApp] | None) -> CooperativesClient:
    """In-process when the registry runs in this process (all-in-one), over HTTP otherwise."""
    timeout = settings.service_timeout_seconds
    if peers and "cooperatives" in peers:
        return CooperativesClient(app=peers["cooperatives"], timeout=timeout)
    url = settings.cooperatives.url
    if not url:
        raise RuntimeError(
            "the lots service needs the cooperatives service: set CHACRA_COOPERATIVES__URL "
            "(e.g. http://cooperatives:8000) or run all-in-one"
        )
    return CooperativesClient(base_url=url, timeout=timeout)


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peers: Mapping[str, ASGIApp] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    cooperatives = cooperatives_client(settings, peers)

    scans = ScanCounter()
    claims = CertificationClaims(settings, peers)
    store = None
    if settings.public_store_mb > 0:
        store = PageStore(settings.public_store_mb * 1024 * 1024, directory=settings.public_store_dir)
    cache = PublicCache(max_bytes=settings.public_cache_mb * 1024 * 1024, store=store)

    async def build_ahead(codes: list[str]) -> list[BaseException | None]:
        # Their claims in one request, then each page in turn (the Spanish one: what a scan without
        # Accept-Language asks for).
        try:
            ahead = await claims_ahead_of(app, codes)
        except Exception:  # the ledger busy, a peer down: each build asks its own claims
            logger.info("claims of %d pages not asked ahead", len(codes), exc_info=True)
            ahead = {}
        outcomes: list[BaseException | None] = []
        for code in codes:
            try:
                page_of(app, await public_entry_of(app, code, prefetched=ahead), LANGUAGES[0])
                outcomes.append(None)
            except Exception as exc:  # reported by the warmer, per code
                outcomes.append(exc)
        return outcomes

    warmer = PageWarmer(build_ahead) if settings.public_build_ahead else None

    async def on_startup(app: FastAPI) -> None:
        scans.start(app.state.database, every=settings.scan_flush_seconds)
        if warmer is not None:
            warmer.start()
        app.state.public_watch = None
        if settings.public_revalidate_seconds > 0:  # 0: every page request checks its version
            watch = ChangeWatch(
                cache,
                app.state.database.read_sessions,
                every=settings.public_revalidate_seconds,
                claims_version=claims.version,
            )
            watch.start()
            app.state.public_watch = watch

    async def on_shutdown(app: FastAPI) -> None:
        if warmer is not None:
            await warmer.stop()
        if app.state.public_watch is not None:
            await app.state.public_watch.stop()
        await scans.stop(app.state.database)
        await claims.aclose()
        await cooperatives.aclose()
        cache.close()

    app = create_service_app(
        name=SERVICE,
        title="Chacra · lots",
        description="The lot ledger: deliveries, transformations, merges, splits, shipments, fairs; "
        "lineage and provenance; EPCIS 2.0 export.",
        settings=settings,
        routers=[router, public_router],
        idempotency=idempotency_keys,
        database=database,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        # A fresh cached page skips routing, dependencies and the session (public/fastpath.py).
        answer_first=[PublicPageFastPath(SERVICE, cache, scans)],
    )
    app.state.cooperatives = cooperatives
    app.state.public_cache = cache
    app.state.public_registry = RememberedRegistry(cooperatives)
    app.state.public_claims = claims
    app.state.page_warmer = warmer
    app.state.scans = scans
    return app
