"""What other services may import to talk to the cooperatives service."""

from __future__ import annotations

from collections.abc import Sequence

from services.cooperatives.schemas import CooperativeRead, FarmerRead, PlotOrigin, PlotRead
from shared.client import ServiceClient
from shared.pagination import MAX_LIMIT

__all__ = ["CooperativeRead", "CooperativesClient", "FarmerRead", "PlotOrigin", "PlotRead"]


class CooperativesClient(ServiceClient):
    service = "cooperatives"

    async def get_cooperative(self, cooperative_id: str) -> CooperativeRead:
        response = await self.request("GET", f"/api/v1/cooperatives/{cooperative_id}")
        return CooperativeRead.model_validate(response.json())

    async def get_farmer(self, farmer_id: str, *, token: str) -> FarmerRead:
        response = await self.request("GET", f"/api/v1/farmers/{farmer_id}", token=token)
        return FarmerRead.model_validate(response.json())

    async def get_plot(self, plot_id: str, *, token: str) -> PlotRead:
        response = await self.request("GET", f"/api/v1/plots/{plot_id}", token=token)
        return PlotRead.model_validate(response.json())

    async def get_plot_origin(self, plot_id: str, *, token: str) -> PlotOrigin:
        """The plot with its farmer and cooperative, in one call: 404 unless the caller may see the plot."""
        response = await self.request("GET", f"/api/v1/plots/{plot_id}/origin", token=token)
        return PlotOrigin.model_validate(response.json())

    async def get_plots(self, plot_ids: Sequence[str], *, token: str) -> list[PlotRead]:
        """Many plots in as few calls as the page size allows, never one call per plot."""
        unique = list(dict.fromkeys(plot_ids))
        found: list[PlotRead] = []
        for start in range(0, len(unique), MAX_LIMIT):
            chunk = unique[start : start + MAX_LIMIT]
            response = await self.request(
                "GET", "/api/v1/plots", token=token, params={"ids": ",".join(chunk), "limit": MAX_LIMIT}
            )
            found.extend(PlotRead.model_validate(item) for item in response.json()["items"])
        return found
