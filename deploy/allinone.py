"""The all-in-one process: every service app behind one dispatcher, on one SQLite file by default.

Requests go to the service that owns their path prefix (deploy/topology.py), with the path intact,
exactly as the gateway routes them in distributed mode. Starlette does not run a mounted app's
lifespan, so this app enters each one's itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import Receive, Scope, Send

from deploy.topology import SERVICES, owner_of
from shared.db import Database
from shared.docs import install_docs
from shared.errors import install_error_handlers, problem_response
from shared.observability import metrics_response
from shared.settings import Settings, get_settings


def merge_openapi(apps: dict[str, FastAPI]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Chacra API",
            "version": "1.0.0",
            "description": "Traceability of cacao and coffee from Peru's Amazon (all services).",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
        "tags": [],
    }
    for app in apps.values():
        schema = app.openapi()
        for path, item in schema.get("paths", {}).items():
            if path in merged["paths"]:
                continue
            merged["paths"][path] = item
        for kind, values in schema.get("components", {}).items():
            merged["components"].setdefault(kind, {}).update(values)
    return merged


class AllInOne:
    """ASGI entry: dispatch by prefix to the service apps, everything else to the root app."""

    def __init__(self, root: FastAPI, apps: dict[str, FastAPI]) -> None:
        self.root = root
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            route = owner_of(scope["path"])
            if route is not None:
                await self.apps[route.name](scope, receive, send)
                return
        await self.root(scope, receive, send)


def create_allinone(
    settings: Settings | None = None, *, databases: dict[str, Database] | None = None
) -> AllInOne:
    settings = settings or get_settings()
    apps: dict[str, FastAPI] = {}
    for route in SERVICES:
        db = (databases or {}).get(route.name)
        # Services are built in topology order, so a service finds the peers it calls already built;
        # the mapping is shared, so one may also reach a later peer at its first call (lots asks
        # certification for a page's claims; certification reads the ledger).
        apps[route.name] = route.factory()(settings, database=db, peers=apps)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield

    root = FastAPI(title="Chacra", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(root)
    install_docs(root)
    openapi_cache: dict[str, Any] = {}

    @root.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    @root.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if not openapi_cache:
            openapi_cache.update(merge_openapi(apps))
        return JSONResponse(openapi_cache)

    @root.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "all"}

    @root.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Any:
        failing = []
        for name, app in apps.items():
            try:
                await app.state.database.ping()
            except Exception:  # any failure to reach a database means "not ready"
                failing.append(name)
        if failing:
            return problem_response(
                503, "database_unavailable", "Not ready", f"No database answer for: {', '.join(failing)}."
            )
        return {"status": "ready", "service": "all"}

    @root.get("/metrics", include_in_schema=False)
    async def metrics() -> Any:
        return metrics_response()

    return AllInOne(root, apps)
