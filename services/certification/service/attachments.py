"""Certificates and lots: attaching a certificate to a lot, and the lots a certificate vouches for."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import repository
from services.certification.models import Attachment, Certificate
from services.certification.schemas import AffectedLot, AffectedLots, AttachmentRead
from services.certification.service.certificates import chunked
from services.certification.service.peers import Delivery, LotOrigin, Peers
from shared.auth import Principal, Role
from shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id

# Scope ids per ledger query: keeps each URL well under the 8 KB that proxies accept.
SCOPE_IDS_PER_CALL = 100


def covers(
    certificate: Certificate, delivery: Delivery, origin: LotOrigin, farmers: set[str], plots: set[str]
) -> bool:
    """The certificate covered this delivery's plot on its harvest date, for the lot's product."""
    plot = origin.plots.get(delivery.plot_id)
    return (
        plot is not None
        and plot.cooperative_id == certificate.cooperative_id
        and (plot.id in plots or plot.farmer_id in farmers)
        and certificate.valid_from <= delivery.harvested_on <= certificate.valid_to
        and delivery.product in certificate.products
    )


async def attach(
    session: AsyncSession, peers: Peers, principal: Principal, certificate_id: str, *, lot_id: str, token: str
) -> AttachmentRead:
    if principal.role not in (Role.EXPORTER, Role.ADMIN):
        raise Forbidden("Only the exporter holding a lot attaches certificates to it.", code="role_required")
    # The ledger answers with the caller's own token: 404 unless the exporter holds the lot.
    origin = await peers.lot_origin(lot_id, token=token)
    certificate = await repository.get_certificate(session, certificate_id)
    if certificate is None:
        raise NotFound(f"No certificate {certificate_id}.", code="certificate_not_found")
    if certificate.status != "active":
        raise Conflict(
            f"Certificate {certificate.number} is {certificate.status}.", code="certificate_not_active"
        )
    farmer_ids, plot_ids = await repository.scope_of(session, certificate.id)
    farmers, plots = set(farmer_ids), set(plot_ids)
    uncovered = sorted(
        {d.plot_id for d in origin.deliveries if not covers(certificate, d, origin, farmers, plots)}
    )
    if uncovered or not origin.deliveries:
        raise ValidationFailed(
            f"Certificate {certificate.number} does not cover {len(uncovered)} plot(s) that contributed "
            f"to the lot on their harvest date: {', '.join(uncovered[:20])}"
            + (" …" if len(uncovered) > 20 else ""),
            code="plots_not_covered",
            errors=[
                FieldError(field="lot_id", code="plot_not_covered", detail=f"Plot {p} is not covered.")
                for p in uncovered[:1000]
            ],
            extra={"uncovered_plot_ids": uncovered},
        )
    existing = await repository.attachment(session, certificate.id, lot_id)
    if existing is not None:
        raise Conflict(
            f"Certificate {certificate.number} is already attached to the lot.", code="already_attached"
        )
    attachment = Attachment(
        id=new_id("att"), certificate_id=certificate.id, lot_id=lot_id, attached_by=principal.user_id
    )
    try:
        async with session.begin_nested():
            session.add(attachment)
    except IntegrityError as exc:
        raise Conflict(
            f"Certificate {certificate.number} is already attached to the lot.", code="already_attached"
        ) from exc
    return AttachmentRead.model_validate(attachment, from_attributes=True)


async def affected_lots(
    session: AsyncSession, peers: Peers, principal: Principal, certificate_id: str, *, token: str
) -> AffectedLots:
    """Every lot made from a delivery of the certificate's scope harvested while it was valid."""
    certificate = await repository.get_certificate(session, certificate_id)
    if certificate is None:
        raise NotFound(f"No certificate {certificate_id}.", code="certificate_not_found")
    if not principal.is_admin and not (
        principal.role is Role.CERTIFIER and principal.certifying_body_id == certificate.certifying_body_id
    ):
        raise Forbidden(
            "Only the issuing body's certifiers list a certificate's lots.", code="not_issuing_body"
        )
    farmer_ids, plot_ids = await repository.scope_of(session, certificate.id)
    # The read session is done with; what follows only asks the ledger.
    found: dict[str, AffectedLot] = {}
    for kind, ids in (("plots", plot_ids), ("farmers", farmer_ids)):
        for chunk in chunked(ids, SCOPE_IDS_PER_CALL):
            async for page in peers.lots.iter_lots_from(
                plot_ids=chunk if kind == "plots" else [],
                farmer_ids=chunk if kind == "farmers" else [],
                harvested_from=certificate.valid_from,
                harvested_to=certificate.valid_to,
                token=token,
            ):
                for lot in page:
                    found[lot.id] = AffectedLot(
                        lot_id=lot.id,
                        code=lot.code,
                        product=str(lot.product),
                        form=str(lot.form),
                        status=str(lot.status),
                        cooperative_id=lot.cooperative_id,
                    )
    return AffectedLots(
        certificate_id=certificate.id, items=sorted(found.values(), key=lambda lot: lot.lot_id)
    )
