"""What `chacra serve` hands the server: the front layers of every service app in the process first,
then proxy headers and the app.

A public page answered from memory during a scan burst (services/lots/public/fastpath.py) needs
neither the client's address nor its scheme, nor the all-in-one dispatch: trying the front layers
before them saves what those cost per request (measured with py-spy on a burst: ~5 % of the event
loop). Everything else passes uvicorn's own ProxyHeadersMiddleware, applied here instead of by
uvicorn, with the same trusted addresses — so ``X-Forwarded-For``/``-Proto`` mean what they meant.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from deploy.allinone import AllInOne
from shared.web import FRONT_TRIED, ServiceApp


class Front:
    def __init__(self, app: ASGIApp, forwarded_allow_ips: str | list[str]) -> None:
        """``app``: a service app, or the all-in-one app (whose service apps' layers all go first)."""
        services = app.apps.values() if isinstance(app, AllInOne) else [app]
        self.layers = [
            (layer, service)
            for service in services
            if isinstance(service, ServiceApp)
            for layer in service.front
        ]
        self.behind = ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for layer, service in self.layers:
                if await layer.answer(service, scope, send):
                    return
            scope[FRONT_TRIED] = True  # the service app does not try them a second time
        await self.behind(scope, receive, send)  # type: ignore[arg-type]
