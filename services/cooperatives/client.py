"""What other services may import to talk to the cooperatives service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from services.cooperatives.schemas import CoarseMap, CooperativeRead, FarmerRead, PlotOrigin, PlotRead
from shared.client import ServiceClient
from shared.pagination import MAX_LIMIT

# The registry answers up to this many ids in one lookup (services/cooperatives/service: MAX_LOOKUP_IDS).
LOOKUP_IDS = 10_000

__all__ = ["CoarseMap", "CooperativeRead", "CooperativesClient", "FarmerRead", "PlotOrigin", "PlotRead"]


class CooperativesClient(ServiceClient):
    service = "cooperatives"

    async def get_cooperative(self, cooperative_id: str) -> CooperativeRead:
        response = await self.request("GET", f"/api/v1/cooperatives/{cooperative_id}")
        return CooperativeRead.model_validate(response.json())

    async def get_map(self, ubigeos: Sequence[str]) -> CoarseMap:
        """Peru's outline and the districts' places, to 0.1° (public)."""
        response = await self.request("GET", "/api/v1/cooperatives/map", params={"ubigeo": list(ubigeos)})
        return CoarseMap.model_validate(response.json())

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

    async def lookup_plots(self, plot_ids: Sequence[str], *, token: str) -> list[PlotRead]:
        """Many plots by id in one call per 10,000 ids (a lot's lineage rarely reaches that)."""
        unique = list(dict.fromkeys(plot_ids))
        found: list[PlotRead] = []
        for start in range(0, len(unique), LOOKUP_IDS):
            chunk = unique[start : start + LOOKUP_IDS]
            response = await self.request("POST", "/api/v1/plots/lookup", token=token, json={"ids": chunk})
            found.extend(PlotRead.model_validate(item) for item in response.json()["items"])
        return found

    async def iter_plot_pages(self, *, token: str) -> AsyncIterator[list[PlotRead]]:
        """Every plot the caller may see, a page (500) at a time, oldest first."""
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": MAX_LIMIT}
            if cursor:
                params["cursor"] = cursor
            response = await self.request("GET", "/api/v1/plots", token=token, params=params)
            page = response.json()
            yield [PlotRead.model_validate(item) for item in page["items"]]
            cursor = page["next"]
            if not cursor:
                return
