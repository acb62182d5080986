"""The frame every service app is built in: lifespan, database, errors, health, metrics, tokens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shared.auth import TokenVerifier
from shared.db import Database
from shared.docs import install_docs
from shared.errors import document_problems, install_error_handlers, problem_response, problem_responses
from shared.idempotency import IdempotencyStore, document_idempotency
from shared.migrations import upgrade_to_head
from shared.observability import ObservabilityMiddleware, metrics_response
from shared.settings import ServiceName, Settings
from shared.uow import UnitOfWorkMiddleware

logger = logging.getLogger("chacra.web")
PURGE_INTERVAL_SECONDS = 3600
StartupHook = Callable[[FastAPI], Awaitable[None]]
# Set in a request's scope by a layer that tried every app's front layers already (deploy/front.py).
FRONT_TRIED = "chacra.front_tried"


class FrontLayer(Protocol):
    """Answers some requests from memory before anything else runs, or passes (returns False).

    A layer that answers records the request itself (shared.observability.record_request) and adds
    the X-Request-ID header, as the middleware it bypasses would.
    """

    async def answer(self, app: FastAPI, scope: Scope, send: Send) -> bool: ...


class ServiceApp(FastAPI):
    """A service's app: its front layers first, then Starlette's stack (middleware, routing)."""

    front: Sequence[FrontLayer] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and FRONT_TRIED not in scope:
            for layer in self.front:
                if await layer.answer(self, scope, send):
                    return
        await super().__call__(scope, receive, send)


class Health(BaseModel):
    status: str
    service: str


def operational_router(service: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health, summary="Liveness: the process answers.")
    async def healthz() -> Health:
        return Health(status="ok", service=service)

    @router.get(
        "/readyz",
        response_model=Health,
        summary="Readiness: the database answers.",
        responses=problem_responses(503),
    )
    async def readyz(request: Request) -> Any:
        try:
            await request.app.state.database.ping()
        except Exception as exc:  # any failure to reach the database means "not ready"
            logger.warning("readiness check failed", extra={"error": str(exc)})
            return problem_response(503, "database_unavailable", "Not ready", "The database does not answer.")
        return Health(status="ready", service=service)

    @router.get("/metrics", summary="Prometheus metrics.", response_class=Response)
    async def metrics() -> Response:
        return metrics_response()

    return router


async def _purge_loop(app: FastAPI) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            await app.state.idempotency.purge_expired(app.state.database)
        except Exception:  # a failed purge must not kill the service; it retries next hour
            logger.exception("idempotency purge failed")


def create_service_app(
    *,
    name: ServiceName,
    title: str,
    description: str,
    settings: Settings,
    routers: Sequence[APIRouter],
    idempotency: Table,
    database: Database | None = None,
    on_startup: StartupHook | None = None,
    on_shutdown: StartupHook | None = None,
    token_verifier: TokenVerifier | None = None,
    answer_first: Sequence[FrontLayer] = (),
) -> FastAPI:
    """Build a service app. A given ``database`` is used as is (tests); otherwise one is opened and
    migrated to head at start. ``answer_first``: layers that may answer a request from memory before
    routing, middleware and the unit of work (ServiceApp)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.database_url_for(name)
        if database is None:
            await upgrade_to_head(name, url)
            db = Database(url, echo=settings.sql_echo)
        else:
            db = database
        app.state.settings = settings
        app.state.database = db
        app.state.idempotency = IdempotencyStore(
            idempotency,
            ttl=timedelta(days=settings.idempotency_ttl_days),
            lock_timeout=timedelta(seconds=settings.idempotency_lock_seconds),
        )
        if not hasattr(app.state, "token_verifier"):
            app.state.token_verifier = token_verifier or TokenVerifier.from_settings(settings.auth)
        await app.state.idempotency.purge_expired(db)
        if on_startup is not None:
            await on_startup(app)
        purger = asyncio.create_task(_purge_loop(app))
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            if on_shutdown is not None:
                await on_shutdown(app)
            if database is None:
                await db.dispose()

    app = ServiceApp(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app, title=title)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.include_router(operational_router(name))
    app.add_middleware(UnitOfWorkMiddleware)
    # Collection centres work over slow 3G: a page of 500 plots shrinks from ~180 KB to ~40 KB.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.front = tuple(answer_first)
    app.add_middleware(ObservabilityMiddleware, service=name)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = document_idempotency(document_problems(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


__all__ = ["JSONResponse", "create_service_app"]
