"""What other services may import to talk to the lots service."""

from __future__ import annotations

from services.lots.schemas import LineageRead, LotRead, ProvenanceRead
from shared.client import ServiceClient

__all__ = ["LineageRead", "LotRead", "LotsClient", "ProvenanceRead"]


class LotsClient(ServiceClient):
    service = "lots"

    async def get_lot(self, lot_id: str, *, token: str) -> LotRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}", token=token)
        return LotRead.model_validate(response.json())

    async def get_lineage(self, lot_id: str, *, token: str) -> LineageRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}/lineage", token=token)
        return LineageRead.model_validate(response.json())

    async def get_provenance(self, lot_id: str, *, token: str) -> ProvenanceRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}/provenance", token=token)
        return ProvenanceRead.model_validate(response.json())
