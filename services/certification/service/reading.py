"""Reading a lot's claims and its EUDR due-diligence geolocation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.schemas import (
    CertificateStatus,
    ClaimCertificate,
    Claims,
    ClaimsVersion,
    Standard,
)
from services.certification.service import evidence
from services.certification.service.claims import judge_lot
from services.certification.service.peers import Peers
from shared.auth import Principal, Role
from shared.errors import FieldError, Forbidden, ValidationFailed

# Regulation (EU) 2023/1115 Art. 2(28): a plot of up to 4 ha may be given as a single point.
POINT_MAX_HA = Decimal(4)
COORDINATE_DECIMALS = 6
# The EU information system accepts geolocation files of at most 25 MB.
EUDR_MAX_BYTES = 25 * 1000 * 1000


async def compute_claims(session: AsyncSession, peers: Peers, lot_id: str, *, window_months: int) -> Claims:
    """Claims at the time of asking: the lineage from the ledger, the plots from the registry (one
    call each, whatever the number of plots), then this service's certificates, verifications and
    layers."""
    origin = await peers.lot_origin(lot_id, token=None)
    found = await evidence.gather(session, origin.plots)
    claims = judge_lot(origin, found, window_months=window_months)
    await _describe_certificates(session, claims)
    return claims


async def compute_claims_many(
    session: AsyncSession, peers: Peers, lot_ids: Sequence[str], *, window_months: int
) -> list[Claims]:
    """Claims of many lots at once, each as ``compute_claims`` would give it: one request to the
    ledger per 500 lots, one plot lookup, one read of the evidence of every plot among them.
    Lots the ledger does not know are left out."""
    origins = await peers.lot_origins(lot_ids)
    plots = {plot_id: plot for origin in origins for plot_id, plot in origin.plots.items()}
    found = await evidence.gather(session, plots)
    claims = [judge_lot(origin, found, window_months=window_months) for origin in origins]
    await _describe_certificates(session, *claims)
    return claims


async def _describe_certificates(session: AsyncSession, *every: Claims) -> None:
    """Each organic claim names its certificates with number, body and validity (one query)."""
    wanted = {i for claims in every for claim in claims.organic.values() for i in claim.certificate_ids}
    if not wanted:
        return
    summaries = {
        cert.id: ClaimCertificate(
            id=cert.id,
            number=cert.number,
            standard=Standard(cert.standard),
            certifying_body=body.name,
            certifying_body_code=body.code,
            valid_from=cert.valid_from,
            valid_to=cert.valid_to,
            status=CertificateStatus(cert.status),
        )
        for cert, body in await repository.certificate_summaries(session, sorted(wanted))
    }
    for claims in every:
        for claim in claims.organic.values():
            claim.certificates = [summaries[i] for i in claim.certificate_ids if i in summaries]


def _rounded(value: Any) -> Any:
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value), COORDINATE_DECIMALS)
    return value


def _geometry_problem(plot_id: str, geometry: dict[str, Any] | None, area_ha: Decimal) -> FieldError | None:
    if not geometry or geometry.get("type") not in ("Point", "Polygon", "MultiPolygon"):
        return FieldError(
            field="plots", code="plot_geometry_missing", detail=f"Plot {plot_id} has no geometry."
        )
    if geometry["type"] == "Point" and area_ha > POINT_MAX_HA:
        return FieldError(
            field="plots",
            code="point_over_4_ha",
            detail=f"Plot {plot_id} is a point but measures {area_ha} ha; over 4 ha it must be a polygon.",
        )
    return None


async def eudr_geojson(peers: Peers, principal: Principal, lot_id: str, *, token: str) -> bytes:
    """A FeatureCollection of exactly the plots that contributed to the lot (STANDARDS.md: EUDR)."""
    if principal.role not in (Role.EXPORTER, Role.MANAGER, Role.ADMIN):
        raise Forbidden("The EUDR export is for exporters and cooperative managers.", code="role_required")
    # With the caller's own token: the ledger answers 404 unless the caller may see the lot.
    provenance, plots = await peers.provenance(lot_id, token=token)
    farmers = {f.farmer_id: f.name for f in provenance.farmers}
    problems: list[FieldError] = []
    features: list[dict[str, Any]] = []
    for share in sorted(provenance.plots, key=lambda s: s.plot_id):
        plot = plots.get(share.plot_id)
        geometry = plot.geometry if plot is not None else None
        area = plot.area_ha if plot is not None else share.area_ha
        problem = _geometry_problem(share.plot_id, geometry, area)
        if problem is not None or geometry is None:
            problems.append(
                problem or FieldError(field="plots", code="plot_geometry_missing", detail=share.plot_id)
            )
            continue
        place = ", ".join(p for p in (share.plot_name, share.district, share.province, share.region) if p)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])},
                "properties": {
                    "ProducerCountry": "PE",
                    "Area": float(area),
                    "ProducerName": farmers.get(share.farmer_id, ""),
                    "ProductionPlace": place,
                },
            }
        )
    if problems:
        raise ValidationFailed(
            f"{len(problems)} plot(s) of the lot cannot be geolocated: "
            + "; ".join(p.detail for p in problems[:20]),
            code="plots_without_geometry",
            errors=problems[:1000],
        )
    body = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")).encode()
    if len(body) > EUDR_MAX_BYTES:
        raise ValidationFailed.single(
            "lot_id", "eudr_file_too_large", f"The geolocation file would be {len(body)} bytes, over 25 MB."
        )
    return body


async def claims_version(session: AsyncSession) -> ClaimsVersion:
    """Changes whenever any lot's claims may have: a reader that keeps claims asks this first."""
    return ClaimsVersion(version=await repository.claims_watermark(session))
