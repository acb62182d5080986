"""A lot's claims for the public page, asked of the certification service through its client.

The page must render even when that service is down or slow: then the claims are shown as
temporarily unavailable (issue 5). Only what a buyer needs is kept — statuses, certificate numbers,
bodies and validity, how and when plots were verified — never which plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp

from services.certification.client import CertificationClient, Claims
from services.lots.public.schemas import PublicCertificate, PublicClaim, PublicClaims, PublicVerifications
from shared.errors import DomainError
from shared.settings import Settings

# A buyer waits for the page, not for a slow peer: past this the claims show as unavailable.
CLAIMS_TIMEOUT_SECONDS = 3.0


def to_public(claims: Claims) -> PublicClaims:
    organic = {
        standard.value: PublicClaim(
            status=claim.status.value,
            certificates=[
                PublicCertificate(
                    number=c.number,
                    certifying_body=c.certifying_body,
                    certifying_body_code=c.certifying_body_code,
                    valid_from=c.valid_from,
                    valid_to=c.valid_to,
                )
                for c in claim.certificates
            ],
        )
        for standard, claim in claims.organic.items()
    }
    evidence = claims.coca_free.evidence
    verifications = None
    if evidence:
        verifications = PublicVerifications(
            count=len(evidence),
            methods=sorted({e.method for e in evidence}),
            first_on=min(e.verified_on for e in evidence),
            last_on=max(e.verified_on for e in evidence),
        )
    return PublicClaims(
        available=True,
        organic=organic,
        coca_free=PublicClaim(status=claims.coca_free.status.value, verifications=verifications),
        deforestation_free=PublicClaim(status=claims.deforestation_free.status.value),
    )


class CertificationClaims:
    """Callable claims source: in-process when certification runs in this process, else over HTTP.

    The peer is looked up at the first call: in the all-in-one process certification is built after
    lots (it reads the ledger), so it is not there yet when lots is created.
    """

    def __init__(self, settings: Settings, peers: Mapping[str, ASGIApp] | None) -> None:
        self._settings = settings
        self._peers = peers
        self._client: CertificationClient | None = None

    def _certification(self) -> CertificationClient | None:
        if self._client is None:
            timeout = min(self._settings.service_timeout_seconds, CLAIMS_TIMEOUT_SECONDS)
            if self._peers is not None and "certification" in self._peers:
                self._client = CertificationClient(app=self._peers["certification"], timeout=timeout)
            elif self._settings.certification.url:
                self._client = CertificationClient(base_url=self._settings.certification.url, timeout=timeout)
        return self._client

    async def __call__(self, lot_id: str) -> PublicClaims:
        client = self._certification()
        if client is None:
            return PublicClaims(available=False)
        try:
            return to_public(await client.get_claims(lot_id))
        except DomainError:  # unreachable, failing or refusing: the page says so and renders
            return PublicClaims(available=False)

    async def many(self, lot_ids: Sequence[str]) -> dict[str, PublicClaims]:
        """Many lots' claims in one request per 100; empty when certification cannot answer (then
        each lot is asked alone)."""
        client = self._certification()
        if client is None:
            return {}
        try:
            return {claims.lot_id: to_public(claims) for claims in await client.get_claims_of(lot_ids)}
        except DomainError:
            return {}

    async def version(self) -> str | None:
        """Certification's claims version; None when it cannot be asked (then claims show as
        unavailable, and are asked again once it answers)."""
        client = self._certification()
        if client is None:
            return None
        try:
            return await client.get_claims_version()
        except DomainError:
            return None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
