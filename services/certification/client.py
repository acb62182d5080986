"""What other services may import to talk to the certification service."""

from __future__ import annotations

from services.certification.schemas import Claims, ClaimStatus, Standard
from shared.client import ServiceClient

__all__ = ["CertificationClient", "ClaimStatus", "Claims", "Standard"]


class CertificationClient(ServiceClient):
    service = "certification"

    async def get_claims(self, lot_id: str) -> Claims:
        """A lot's claims, computed by the certification service at the time of the call."""
        response = await self.request("GET", f"/api/v1/claims/lots/{lot_id}")
        return Claims.model_validate(response.json())
