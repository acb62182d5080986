"""Base for the typed clients in each service's ``client.py``.

One HTTP implementation for both ways of running: over a socket to a base URL (distributed), or
through ``httpx.ASGITransport`` straight into the sibling app (all-in-one) — same serialisation,
same status codes, same errors. Answers from the peer become the caller's domain errors.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from shared.errors import (
    BadRequest,
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)

_BY_STATUS: dict[int, type[DomainError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
}


class ServiceClient:
    service: str = "service"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        app: ASGIApp | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (base_url is None) == (app is None) and transport is None:
            raise ValueError("give exactly one of base_url or app")
        if app is not None:
            # A crash in the sibling must look like a 500 from a remote peer, not raise in the caller.
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            base_url = f"http://{self.service}.internal"
        self._http = httpx.AsyncClient(base_url=base_url or "", transport=transport, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"The {self.service} service could not be reached.", code=f"{self.service}_unavailable"
            ) from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(
                f"The {self.service} service failed to answer ({response.status_code}).",
                code=f"{self.service}_unavailable",
            )
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> DomainError:
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        cls = _BY_STATUS.get(response.status_code, BadRequest)
        detail = str(problem.get("detail") or f"The {self.service} service refused the request.")
        errors = [
            FieldError.model_validate(e)
            for e in problem.get("errors") or []
            if isinstance(e, dict) and "field" in e
        ]
        return cls(detail, code=problem.get("code"), errors=errors or None)
