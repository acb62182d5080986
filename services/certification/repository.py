"""Every SQL statement of the certification service."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification.models import (
    Attachment,
    Certificate,
    CertificateScope,
    CertificateStatusEvent,
    CertifyingBody,
    LayerFeature,
    MonitoringLayer,
    PlotFlag,
    Verification,
)
from shared.pagination import PageParams, keyset

# SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535: stay well below both.
CHUNK = 1000
Bounds = tuple[float, float, float, float]


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


async def insert_rows(session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), list(rows[start : start + CHUNK]))


# bodies and certificates


async def get_body(session: AsyncSession, body_id: str) -> CertifyingBody | None:
    return await session.get(CertifyingBody, body_id)


async def get_certificate(session: AsyncSession, certificate_id: str) -> Certificate | None:
    return await session.get(Certificate, certificate_id)


async def lock_certificate(session: AsyncSession, certificate_id: str) -> Certificate | None:
    """The certificate, locked against a concurrent status change until the transaction ends."""
    stmt = select(Certificate).where(Certificate.id == certificate_id).with_for_update()
    certificate: Certificate | None = await session.scalar(stmt)
    return certificate


async def set_status(session: AsyncSession, certificate_id: str, status: str) -> None:
    await session.execute(update(Certificate).where(Certificate.id == certificate_id).values(status=status))


async def scope_of(session: AsyncSession, certificate_id: str) -> tuple[list[str], list[str]]:
    """(farmer ids, plot ids) the certificate covers."""
    rows = await session.execute(
        select(CertificateScope.kind, CertificateScope.subject_id)
        .where(CertificateScope.certificate_id == certificate_id)
        .order_by(CertificateScope.kind, CertificateScope.subject_id)
    )
    farmers: list[str] = []
    plots: list[str] = []
    for kind, subject in rows:
        (farmers if kind == "farmer" else plots).append(subject)
    return farmers, plots


async def history(session: AsyncSession, certificate_id: str) -> Sequence[CertificateStatusEvent]:
    stmt = (
        select(CertificateStatusEvent)
        .where(CertificateStatusEvent.certificate_id == certificate_id)
        .order_by(CertificateStatusEvent.recorded_at, CertificateStatusEvent.id)
    )
    return (await session.scalars(stmt)).all()


async def list_certificates(
    session: AsyncSession, page: PageParams, *, cooperative_id: str | None
) -> Sequence[Certificate]:
    stmt = select(Certificate)
    if cooperative_id is not None:
        stmt = stmt.where(Certificate.cooperative_id == cooperative_id)
    return (await session.scalars(keyset(stmt, [Certificate.created_at, Certificate.id], page))).all()


async def certificates_covering(
    session: AsyncSession, plot_ids: Sequence[str], farmer_ids: Sequence[str]
) -> dict[str, list[tuple[Certificate, str, str]]]:
    """Every certificate whose scope names one of the plots or farmers, as (certificate, kind, subject)
    grouped by subject id."""
    found: dict[str, list[tuple[Certificate, str, str]]] = defaultdict(list)
    subjects = [("plot", chunk) for chunk in _chunks(plot_ids)] + [
        ("farmer", chunk) for chunk in _chunks(farmer_ids)
    ]
    for kind, chunk in subjects:
        stmt = (
            select(Certificate, CertificateScope.kind, CertificateScope.subject_id)
            .join(CertificateScope, CertificateScope.certificate_id == Certificate.id)
            .where(CertificateScope.kind == kind, CertificateScope.subject_id.in_(chunk))
        )
        for certificate, scope_kind, subject in await session.execute(stmt):
            found[subject].append((certificate, scope_kind, subject))
    return found


async def attachment(session: AsyncSession, certificate_id: str, lot_id: str) -> Attachment | None:
    stmt = select(Attachment).where(Attachment.certificate_id == certificate_id, Attachment.lot_id == lot_id)
    found: Attachment | None = await session.scalar(stmt)
    return found


# verifications


async def verifications_of(session: AsyncSession, plot_ids: Sequence[str]) -> list[Verification]:
    found: list[Verification] = []
    for chunk in _chunks(plot_ids):
        stmt = select(Verification).where(Verification.plot_id.in_(chunk))
        found.extend((await session.scalars(stmt)).all())
    return found


async def list_verifications(
    session: AsyncSession, page: PageParams, *, plot_id: str | None
) -> Sequence[Verification]:
    stmt = select(Verification)
    if plot_id is not None:
        stmt = stmt.where(Verification.plot_id == plot_id)
    return (await session.scalars(keyset(stmt, [Verification.created_at, Verification.id], page))).all()


# monitoring layers


async def get_layer(session: AsyncSession, layer_id: str) -> MonitoringLayer | None:
    return await session.get(MonitoringLayer, layer_id)


async def list_layers(session: AsyncSession, page: PageParams) -> Sequence[MonitoringLayer]:
    stmt = select(MonitoringLayer)
    return (await session.scalars(keyset(stmt, [MonitoringLayer.created_at, MonitoringLayer.id], page))).all()


async def flag_counts(session: AsyncSession, layer_ids: Sequence[str]) -> dict[str, int]:
    if not layer_ids:
        return {}
    stmt = (
        select(PlotFlag.layer_id, func.count())
        .where(PlotFlag.layer_id.in_(list(layer_ids)))
        .group_by(PlotFlag.layer_id)
    )
    return {layer_id: int(count) for layer_id, count in await session.execute(stmt)}


async def layer_flags(
    session: AsyncSession, layer_id: str, page: PageParams
) -> Sequence[tuple[PlotFlag, LayerFeature]]:
    stmt = (
        select(PlotFlag, LayerFeature)
        .join(LayerFeature, LayerFeature.id == PlotFlag.feature_id)
        .where(PlotFlag.layer_id == layer_id)
    )
    rows = await session.execute(keyset(stmt, [PlotFlag.id], page))
    return [(flag, feature) for flag, feature in rows]


def _overlaps(model: Any, bounds: Bounds) -> Any:
    min_x, min_y, max_x, max_y = bounds
    return and_(
        model.min_lon <= max_x, model.max_lon >= min_x, model.min_lat <= max_y, model.max_lat >= min_y
    )


async def features_near(session: AsyncSession, boxes: Sequence[Bounds]) -> Sequence[LayerFeature]:
    """Features whose bounding box meets one of the boxes (each a cluster of a lot's plots)."""
    if not boxes:
        return []
    stmt = select(LayerFeature).where(or_(*(_overlaps(LayerFeature, b) for b in boxes)))
    return (await session.scalars(stmt)).all()


async def forest_loss_layers_near(
    session: AsyncSession, boxes: Sequence[Bounds]
) -> Sequence[MonitoringLayer]:
    if not boxes:
        return []
    stmt = select(MonitoringLayer).where(
        MonitoringLayer.kind == "forest_loss", or_(*(_overlaps(MonitoringLayer, b) for b in boxes))
    )
    return (await session.scalars(stmt)).all()


async def certificate_summaries(
    session: AsyncSession, certificate_ids: Iterable[str]
) -> Sequence[tuple[Certificate, CertifyingBody]]:
    """Certificates with their body, by id (for the claims a buyer reads)."""
    rows: list[tuple[Certificate, CertifyingBody]] = []
    for chunk in _chunks(certificate_ids):
        stmt = (
            select(Certificate, CertifyingBody)
            .join(CertifyingBody, CertifyingBody.id == Certificate.certifying_body_id)
            .where(Certificate.id.in_(chunk))
        )
        rows.extend((cert, body) for cert, body in (await session.execute(stmt)).all())
    return rows


async def claims_watermark(session: AsyncSession) -> str:
    """Rows in every table claims are computed from. Those tables only grow (a status change is a
    new history row), so the counts change exactly when a claim may have changed."""
    tables = (Certificate, CertificateStatusEvent, Verification, MonitoringLayer)
    counts = [select(func.count()).select_from(table).scalar_subquery() for table in tables]
    row = (await session.execute(select(*counts))).one()
    return ".".join(str(n) for n in row)
