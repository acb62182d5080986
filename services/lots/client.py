"""What other services may import to talk to the lots service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date

from services.lots.schemas import LineageNode, LineageRead, LotOrigin, LotRead, OriginsRead, ProvenanceRead
from services.lots.schemas.origin import MAX_ORIGIN_LOTS
from shared.client import ServiceClient
from shared.pagination import MAX_LIMIT

__all__ = ["LineageNode", "LineageRead", "LotOrigin", "LotRead", "LotsClient", "ProvenanceRead"]


class LotsClient(ServiceClient):
    service = "lots"

    async def get_lot(self, lot_id: str, *, token: str) -> LotRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}", token=token)
        return LotRead.model_validate(response.json())

    async def get_lineage(self, lot_id: str, *, token: str) -> LineageRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}/lineage", token=token)
        return LineageRead.model_validate(response.json())

    async def get_origins(self, lot_ids: Sequence[str], *, token: str) -> list[LotOrigin]:
        """Many lots' deliveries, one request per 500 lots; unknown or unreadable lots are left out."""
        unique = list(dict.fromkeys(lot_ids))
        found: list[LotOrigin] = []
        for start in range(0, len(unique), MAX_ORIGIN_LOTS):
            chunk = unique[start : start + MAX_ORIGIN_LOTS]
            response = await self.request(
                "POST", "/api/v1/lots/origins", token=token, json={"lot_ids": chunk}
            )
            found.extend(OriginsRead.model_validate(response.json()).items)
        return found

    async def get_provenance(self, lot_id: str, *, token: str) -> ProvenanceRead:
        response = await self.request("GET", f"/api/v1/lots/{lot_id}/provenance", token=token)
        return ProvenanceRead.model_validate(response.json())

    async def iter_lots_from(
        self,
        *,
        plot_ids: Sequence[str],
        farmer_ids: Sequence[str],
        harvested_from: date | None,
        harvested_to: date | None,
        token: str,
    ) -> AsyncIterator[list[LotRead]]:
        """Every lot made from deliveries of these plots or farmers (harvested inside the dates), by page."""
        params: dict[str, str | int] = {
            "limit": MAX_LIMIT,
            "from_plots": ",".join(plot_ids),
            "from_farmers": ",".join(farmer_ids),
        }
        if harvested_from is not None:
            params["harvested_from"] = harvested_from.isoformat()
        if harvested_to is not None:
            params["harvested_to"] = harvested_to.isoformat()
        while True:
            response = await self.request("GET", "/api/v1/lots", token=token, params=params)
            page = response.json()
            yield [LotRead.model_validate(item) for item in page["items"]]
            if not page["next"]:
                return
            params["cursor"] = page["next"]
