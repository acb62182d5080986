"""What other services may import to talk to the certification service."""

from __future__ import annotations

from services.certification.schemas import Claims, ClaimStatus, ClaimsVersion, Standard
from shared.client import ServiceClient

__all__ = ["CertificationClient", "ClaimStatus", "Claims", "Standard"]


class CertificationClient(ServiceClient):
    service = "certification"

    async def get_claims_version(self) -> str:
        """Changes whenever any lot's claims may have; claims read under one version stay valid."""
        response = await self.request("GET", "/api/v1/claims/version")
        return str(ClaimsVersion.model_validate(response.json()).version)

    async def get_claims(self, lot_id: str) -> Claims:
        """A lot's claims, computed by the certification service at the time of the call."""
        response = await self.request("GET", f"/api/v1/claims/lots/{lot_id}")
        return Claims.model_validate(response.json())
