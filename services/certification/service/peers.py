"""What the certification service asks its peers: a lot's deliveries, and the plots behind them.

Every answer here costs a constant number of calls whatever the size of the lot: one to the
ledger (lineage or provenance, one recursive query there) and one plot lookup per 10,000 plots.

The service reads plots as itself (a read-only certifier identity with no certifying body, signed
with the platform's key): an exporter may not read the registry, yet the EUDR export and an
attachment need the exact geometry and scope of the plots behind the exporter's lot. The ledger is
always asked first *with the caller's own token* where access matters, so only the plots of a lot
the caller may see are ever read this way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from services.cooperatives.client import CooperativesClient, PlotRead
from services.lots.client import LineageNode, LotsClient, ProvenanceRead
from shared.auth import Principal, Role, TokenIssuer

SERVICE_PRINCIPAL = Principal(user_id="svc_certification", username="certification", role=Role.CERTIFIER)
# Renew the service token well before it expires, so a slow request never carries a stale one.
RENEW_MARGIN_SECONDS = 120


class ServiceIdentity:
    """A short-lived token for the service itself, renewed before it expires."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        now = time.monotonic()
        if self._token is None or now >= self._renew_at:
            self._token = self._issuer.issue(SERVICE_PRINCIPAL)
            self._renew_at = now + max(self._issuer.ttl.total_seconds() - RENEW_MARGIN_SECONDS, 30)
        return self._token


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery in a lot's lineage: the plot it came from and when it was harvested."""

    lot_id: str
    plot_id: str
    farmer_id: str | None
    product: str
    harvested_on: date


@dataclass(frozen=True, slots=True)
class LotOrigin:
    lot_id: str
    product: str
    deliveries: list[Delivery]
    plots: dict[str, PlotRead]

    @property
    def plot_ids(self) -> list[str]:
        return list(dict.fromkeys(d.plot_id for d in self.deliveries))


@dataclass(frozen=True, slots=True)
class Peers:
    lots: LotsClient
    cooperatives: CooperativesClient
    identity: ServiceIdentity

    async def plots(self, plot_ids: Sequence[str]) -> dict[str, PlotRead]:
        found = await self.cooperatives.lookup_plots(plot_ids, token=self.identity.token())
        return {p.id: p for p in found}

    async def lot_origin(self, lot_id: str, *, token: str | None) -> LotOrigin:
        """The lot's deliveries (asked with ``token``, or as the service) and their plots."""
        lineage = await self.lots.get_lineage(lot_id, token=token or self.identity.token())
        deliveries = _deliveries(lineage.deliveries)
        target = next(n for n in lineage.nodes if n.lot_id == lineage.lot_id)
        plots = await self.plots([d.plot_id for d in deliveries])
        return LotOrigin(lineage.lot_id, target.product.value, deliveries, plots)

    async def lot_origins(self, lot_ids: Sequence[str]) -> list[LotOrigin]:
        """Many lots' deliveries (asked as the service: one request per 500 lots) and, in one
        lookup, all their plots; lots the ledger does not know are left out."""
        found = await self.lots.get_origins(lot_ids, token=self.identity.token())
        deliveries = {origin.lot_id: _deliveries(origin.deliveries) for origin in found}
        plots = await self.plots([d.plot_id for each in deliveries.values() for d in each])
        return [
            LotOrigin(
                origin.lot_id,
                origin.product.value,
                deliveries[origin.lot_id],
                {d.plot_id: plots[d.plot_id] for d in deliveries[origin.lot_id] if d.plot_id in plots},
            )
            for origin in found
        ]

    async def provenance(self, lot_id: str, *, token: str) -> tuple[ProvenanceRead, dict[str, PlotRead]]:
        provenance = await self.lots.get_provenance(lot_id, token=token)
        return provenance, await self.plots([p.plot_id for p in provenance.plots])


def _deliveries(nodes: Sequence[LineageNode]) -> list[Delivery]:
    """The lineage's deliveries that name a plot and a harvest date: what claims are judged on."""
    return [
        Delivery(n.lot_id, n.plot_id, n.farmer_id, n.product.value, n.harvested_on)
        for n in nodes
        if n.plot_id is not None and n.harvested_on is not None
    ]
