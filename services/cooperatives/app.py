"""The cooperatives service: identity and the registry of cooperatives, farmers and plots."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.cooperatives import service
from services.cooperatives.api import router
from services.cooperatives.models import SERVICE, idempotency_keys
from shared.auth import TokenIssuer
from shared.db import Database
from shared.settings import Settings, get_settings
from shared.web import create_service_app

logger = logging.getLogger("chacra.cooperatives")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peers: Mapping[str, ASGIApp] | None = None,
) -> FastAPI:
    """``peers`` is accepted like every service's factory takes it; the registry calls no peer."""
    del peers
    settings = settings or get_settings()
    issuer = TokenIssuer(settings.auth)

    async def on_startup(app: FastAPI) -> None:
        app.state.token_issuer = issuer
        if settings.admin_username and settings.admin_password:
            async with app.state.database.transaction() as session:
                created = await service.ensure_admin(
                    session,
                    username=settings.admin_username,
                    password=settings.admin_password.get_secret_value(),
                )
            if created:
                logger.info("created the first admin", extra={"username": settings.admin_username})

    app = create_service_app(
        name=SERVICE,
        title="Chacra · cooperatives",
        description="Identity, and the registry of cooperatives, farmers and plots.",
        settings=settings,
        routers=[router],
        idempotency=idempotency_keys,
        database=database,
        on_startup=on_startup,
        token_verifier=issuer.verifier,
    )
    app.state.token_issuer = issuer
    return app
