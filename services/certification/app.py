"""The certification service: certifying bodies, certificates, verifications, monitoring layers, claims."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp

from services.certification.api import router
from services.certification.models import SERVICE, idempotency_keys
from services.certification.service import Peers, ServiceIdentity
from services.cooperatives.client import CooperativesClient
from services.lots.client import LotsClient
from shared.auth import TokenIssuer
from shared.db import Database
from shared.settings import Settings, get_settings
from shared.web import create_service_app


def _peer_url(settings: Settings, name: str, variable: str) -> str:
    url = settings.cooperatives.url if name == "cooperatives" else settings.lots.url
    if not url:
        raise RuntimeError(
            f"the certification service needs the {name} service: set {variable} "
            f"(e.g. http://{name}:8000) or run all-in-one"
        )
    return url


def peers_of(settings: Settings, peers: Mapping[str, ASGIApp] | None) -> Peers:
    """In-process clients when the peers run in this process (all-in-one), HTTP clients otherwise."""
    timeout = settings.service_timeout_seconds
    if peers and "cooperatives" in peers:
        cooperatives = CooperativesClient(app=peers["cooperatives"], timeout=timeout)
    else:
        url = _peer_url(settings, "cooperatives", "CHACRA_COOPERATIVES__URL")
        cooperatives = CooperativesClient(base_url=url, timeout=timeout)
    if peers and "lots" in peers:
        lots = LotsClient(app=peers["lots"], timeout=timeout)
    else:
        lots = LotsClient(base_url=_peer_url(settings, "lots", "CHACRA_LOTS__URL"), timeout=timeout)
    if settings.auth.private_key is None and settings.auth.public_key:
        # A public key alone cannot sign the service's own read-only token (service/peers.py).
        raise RuntimeError(
            "the certification service reads the registry as itself and needs the platform's signing "
            "key: set CHACRA_AUTH__PRIVATE_KEY"
        )
    return Peers(lots=lots, cooperatives=cooperatives, identity=ServiceIdentity(TokenIssuer(settings.auth)))


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peers: Mapping[str, ASGIApp] | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    clients = peers_of(settings, peers)

    async def on_shutdown(_: FastAPI) -> None:
        await clients.lots.aclose()
        await clients.cooperatives.aclose()

    app = create_service_app(
        name=SERVICE,
        title="Chacra · certification",
        description="Certifying bodies, organic certificates and their scope, coca-free and "
        "deforestation-free verifications, monitoring layers; claims computed per lot; EUDR export.",
        settings=settings,
        routers=[router],
        idempotency=idempotency_keys,
        database=database,
        on_shutdown=on_shutdown,
    )
    app.state.peers = clients
    return app
