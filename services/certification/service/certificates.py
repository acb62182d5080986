"""Certifying bodies and certificates: who may issue, suspend, withdraw and reinstate them.

Services flush, never commit: the request's unit of work commits (shared/uow.py). Peers are asked
before the first statement, so no transaction is held open across a call to another service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.models import (
    Certificate,
    CertificateScope,
    CertificateStatusEvent,
    CertifyingBody,
)
from services.certification.schemas import (
    CertificateCreate,
    CertificateRead,
    CertificateStatus,
    CertificateSummary,
    CertifyingBodyCreate,
    CertifyingBodyRead,
    Scope,
    StatusEventRead,
)
from services.certification.service.peers import Peers
from shared.auth import Principal, Role
from shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id
from shared.pagination import Page, PageParams, make_page

Action = Literal["suspend", "withdraw", "reinstate"]
# What each action may start from, and where it leaves the certificate. A withdrawal is final.
TRANSITIONS: dict[Action, tuple[frozenset[str], CertificateStatus]] = {
    "suspend": (frozenset({"active"}), CertificateStatus.SUSPENDED),
    "withdraw": (frozenset({"active", "suspended"}), CertificateStatus.WITHDRAWN),
    "reinstate": (frozenset({"suspended"}), CertificateStatus.ACTIVE),
}


def body_read(body: CertifyingBody) -> CertifyingBodyRead:
    return CertifyingBodyRead.model_validate(body, from_attributes=True)


async def create_body(session: AsyncSession, *, data: CertifyingBodyCreate) -> CertifyingBodyRead:
    body = CertifyingBody(
        id=new_id("cb"), name=data.name, code=data.code, standards=sorted({s.value for s in data.standards})
    )
    try:
        async with session.begin_nested():
            session.add(body)
    except IntegrityError as exc:
        raise Conflict(f"A certifying body with code {data.code} exists.", code="body_code_taken") from exc
    return body_read(body)


async def get_body(session: AsyncSession, body_id: str) -> CertifyingBodyRead:
    body = await repository.get_body(session, body_id)
    if body is None:
        raise NotFound(f"No certifying body {body_id}.", code="body_not_found")
    return body_read(body)


def _require_issuer(principal: Principal, body_id: str) -> None:
    if principal.role is not Role.CERTIFIER or principal.certifying_body_id != body_id:
        raise Forbidden(
            "Only a certifier of the issuing certifying body may do this.", code="not_issuing_body"
        )


def summary(certificate: Certificate) -> CertificateSummary:
    return CertificateSummary.model_validate(certificate, from_attributes=True)


async def certificate_read(session: AsyncSession, certificate: Certificate) -> CertificateRead:
    farmers, plots = await repository.scope_of(session, certificate.id)
    events = await repository.history(session, certificate.id)
    return CertificateRead(
        **summary(certificate).model_dump(),
        scope=Scope.model_construct(farmer_ids=farmers, plot_ids=plots),
        history=[
            StatusEventRead(
                action=e.action,
                status=CertificateStatus(e.status),
                reason=e.reason,
                recorded_by=e.recorded_by,
                recorded_at=e.recorded_at,
            )
            for e in events
        ],
    )


async def _check_scope(peers: Peers, data: CertificateCreate) -> None:
    """The cooperative exists and every plot named belongs to it (one lookup for all plots)."""
    await peers.cooperatives.get_cooperative(data.cooperative_id)
    plots = await peers.plots(data.scope.plot_ids) if data.scope.plot_ids else {}
    errors = [
        FieldError(
            field=f"scope.plot_ids.{i}",
            code="plot_not_in_cooperative",
            detail=f"Plot {plot_id} is not a plot of cooperative {data.cooperative_id}.",
        )
        for i, plot_id in enumerate(data.scope.plot_ids)
        if plot_id not in plots or plots[plot_id].cooperative_id != data.cooperative_id
    ]
    if errors:
        raise ValidationFailed(
            f"{len(errors)} plot(s) of the scope are not plots of the cooperative.", errors=errors[:1000]
        )


async def create_certificate(
    session: AsyncSession, peers: Peers, principal: Principal, *, data: CertificateCreate
) -> CertificateRead:
    _require_issuer(principal, data.certifying_body_id)
    await _check_scope(peers, data)
    body = await repository.get_body(session, data.certifying_body_id)
    if body is None:
        raise NotFound(f"No certifying body {data.certifying_body_id}.", code="body_not_found")
    if data.standard.value not in body.standards:
        raise ValidationFailed.single(
            "standard", "standard_not_accredited", f"{body.code} does not certify {data.standard}."
        )
    certificate = Certificate(
        id=new_id("cert"),
        number=data.number,
        certifying_body_id=body.id,
        standard=data.standard.value,
        cooperative_id=data.cooperative_id,
        products=sorted({p.value for p in data.products}),
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        status=CertificateStatus.ACTIVE.value,
        created_by=principal.user_id,
    )
    try:
        async with session.begin_nested():
            session.add(certificate)
    except IntegrityError as exc:
        raise Conflict(
            f"{body.code} already issued a certificate numbered {data.number}.",
            code="certificate_number_taken",
        ) from exc
    scope = [{"kind": "farmer", "subject_id": f} for f in dict.fromkeys(data.scope.farmer_ids)] + [
        {"kind": "plot", "subject_id": p} for p in dict.fromkeys(data.scope.plot_ids)
    ]
    await repository.insert_rows(
        session, CertificateScope, [{"certificate_id": certificate.id, **row} for row in scope]
    )
    session.add(_event(certificate.id, "issue", CertificateStatus.ACTIVE, "issued", principal))
    await session.flush()
    return await certificate_read(session, certificate)


def _event(
    certificate_id: str, action: str, status: CertificateStatus, reason: str, principal: Principal
) -> CertificateStatusEvent:
    return CertificateStatusEvent(
        id=new_id("cse"),
        certificate_id=certificate_id,
        action=action,
        status=status.value,
        reason=reason,
        recorded_by=principal.user_id,
    )


async def change_status(
    session: AsyncSession, principal: Principal, certificate_id: str, *, action: Action, reason: str
) -> CertificateRead:
    certificate = await repository.lock_certificate(session, certificate_id)
    if certificate is None:
        raise NotFound(f"No certificate {certificate_id}.", code="certificate_not_found")
    _require_issuer(principal, certificate.certifying_body_id)
    allowed_from, status = TRANSITIONS[action]
    if certificate.status not in allowed_from:
        raise Conflict(
            f"Certificate {certificate.number} is {certificate.status}; it cannot be {action}ed "
            f"(only from: {', '.join(sorted(allowed_from))}).",
            code="status_transition_invalid",
        )
    await repository.set_status(session, certificate.id, status.value)
    session.add(_event(certificate.id, action, status, reason, principal))
    await session.flush()
    await session.refresh(certificate)
    return await certificate_read(session, certificate)


async def get_certificate(session: AsyncSession, certificate_id: str) -> CertificateRead:
    certificate = await repository.get_certificate(session, certificate_id)
    if certificate is None:
        raise NotFound(f"No certificate {certificate_id}.", code="certificate_not_found")
    return await certificate_read(session, certificate)


async def list_certificates(
    session: AsyncSession, *, page: PageParams, cooperative_id: str | None
) -> Page[CertificateSummary]:
    rows, cursor = make_page(
        await repository.list_certificates(session, page, cooperative_id=cooperative_id),
        page,
        lambda c: (c.created_at, c.id),
    )
    return Page[CertificateSummary](items=[summary(c) for c in rows], next=cursor)


def chunked(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]
