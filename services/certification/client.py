"""What other services may import to talk to the certification service."""

from __future__ import annotations

from collections.abc import Sequence

from services.certification.schemas import (
    MAX_CLAIMS_LOTS,
    Claims,
    ClaimsOfLots,
    ClaimStatus,
    ClaimsVersion,
    Standard,
)
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

    async def get_claims_of(self, lot_ids: Sequence[str]) -> list[Claims]:
        """Many lots' claims, one request per 100 lots; lots the ledger does not know are left out."""
        unique = list(dict.fromkeys(lot_ids))
        found: list[Claims] = []
        for start in range(0, len(unique), MAX_CLAIMS_LOTS):
            chunk = unique[start : start + MAX_CLAIMS_LOTS]
            response = await self.request("POST", "/api/v1/claims/lots", json={"lot_ids": chunk})
            found.extend(ClaimsOfLots.model_validate(response.json()).items)
        return found
