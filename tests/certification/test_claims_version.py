"""Certification's claims version moves with everything claims rest on, and only then."""

from __future__ import annotations

import httpx

from tests.certification.calls import Body, certify, change, verify
from tests.factories import Origin, deliver


async def version(api: httpx.AsyncClient) -> str:
    response = await api.get("/api/v1/claims/version")
    assert response.status_code == 200, response.text
    text: str = response.json()["version"]
    return text


async def test_the_version_moves_with_certificates_statuses_and_verifications_only(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    start = await version(api)
    lot = await deliver(api, origin, "40")
    assert (await api.get(f"/api/v1/claims/lots/{lot['id']}")).status_code == 200
    assert await version(api) == start  # reading claims, recording deliveries: nothing moves
    certificate = await certify(api, body, origin)
    issued = await version(api)
    assert issued != start
    assert (await change(api, body, certificate["id"], "suspend")).status_code == 200
    suspended = await version(api)
    assert suspended != issued
    await verify(api, body, origin.plot["id"])
    assert await version(api) != suspended
