"""Routes of the certification service: parse, call the service, return a schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.certification import service
from services.certification.schemas import (
    AffectedLots,
    AttachmentCreate,
    AttachmentRead,
    CertificateCreate,
    CertificateRead,
    CertificateSummary,
    CertifyingBodyCreate,
    CertifyingBodyRead,
    Claims,
    ClaimsAsk,
    ClaimsOfLots,
    ClaimsVersion,
    LayerCreate,
    LayerRead,
    PlotFlagRead,
    StatusChange,
    VerificationCreate,
    VerificationRead,
)
from services.certification.service import Peers
from shared.auth import AdminUser, CurrentCaller, CurrentUser
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_params
from shared.uow import request_read_session, request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(request_read_session)]
PageDep = Annotated[PageParams, Depends(page_params)]

router = APIRouter(prefix="/api/v1")
READ_ERRORS = problem_responses(401, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422, 503)
GEOJSON = "application/geo+json"


def _peers(request: Request) -> Peers:
    peers: Peers = request.app.state.peers
    return peers


@router.post(
    "/certifying-bodies",
    status_code=201,
    response_model=CertifyingBodyRead,
    tags=["certification"],
    responses=problem_responses(401, 403, 409, 422),
)
async def create_certifying_body(
    session: SessionDep, _admin: AdminUser, body: CertifyingBodyCreate
) -> CertifyingBodyRead:
    """Register a certifying (control) body and the standards it certifies (admins)."""
    return await service.create_body(session, data=body)


@router.get(
    "/certifying-bodies/{body_id}",
    response_model=CertifyingBodyRead,
    tags=["certification"],
    responses=READ_ERRORS,
)
async def read_certifying_body(session: SessionDep, body_id: str) -> CertifyingBodyRead:
    """One certifying body (public)."""
    return await service.get_body(session, body_id)


@router.post(
    "/certificates",
    status_code=201,
    response_model=CertificateRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def create_certificate(
    session: SessionDep, request: Request, principal: CurrentUser, body: CertificateCreate
) -> CertificateRead:
    """Record a certificate of a cooperative with its scope (certifiers of the issuing body)."""
    return await service.create_certificate(session, _peers(request), principal, data=body)


@router.post(
    "/certificates/{certificate_id}/suspend",
    response_model=CertificateRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def suspend_certificate(
    session: SessionDep, principal: CurrentUser, certificate_id: str, body: StatusChange
) -> CertificateRead:
    """Suspend an active certificate, with the reason (certifiers of the issuing body)."""
    return await service.change_status(
        session, principal, certificate_id, action="suspend", reason=body.reason
    )


@router.post(
    "/certificates/{certificate_id}/withdraw",
    response_model=CertificateRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def withdraw_certificate(
    session: SessionDep, principal: CurrentUser, certificate_id: str, body: StatusChange
) -> CertificateRead:
    """Withdraw a certificate for good, with the reason (certifiers of the issuing body)."""
    return await service.change_status(
        session, principal, certificate_id, action="withdraw", reason=body.reason
    )


@router.post(
    "/certificates/{certificate_id}/reinstate",
    response_model=CertificateRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def reinstate_certificate(
    session: SessionDep, principal: CurrentUser, certificate_id: str, body: StatusChange
) -> CertificateRead:
    """Reinstate a suspended certificate, with the reason (certifiers of the issuing body)."""
    return await service.change_status(
        session, principal, certificate_id, action="reinstate", reason=body.reason
    )


@router.get(
    "/certificates", response_model=Page[CertificateSummary], tags=["certification"], responses=READ_ERRORS
)
async def list_certificates(
    session: SessionDep, _principal: CurrentUser, page: PageDep, cooperative_id: str | None = None
) -> Page[CertificateSummary]:
    """Certificates, optionally of one cooperative, oldest first."""
    return await service.list_certificates(session, page=page, cooperative_id=cooperative_id)


@router.get(
    "/certificates/{certificate_id}",
    response_model=CertificateRead,
    tags=["certification"],
    responses=READ_ERRORS,
)
async def read_certificate(
    session: SessionDep, _principal: CurrentUser, certificate_id: str
) -> CertificateRead:
    """One certificate with its scope and its history of suspensions and reinstatements."""
    return await service.get_certificate(session, certificate_id)


@router.get(
    "/certificates/{certificate_id}/affected-lots",
    response_model=AffectedLots,
    tags=["certification"],
    responses=problem_responses(401, 403, 404, 503),
)
async def certificate_affected_lots(
    session: SessionDep, request: Request, caller: CurrentCaller, certificate_id: str
) -> AffectedLots:
    """Every lot made from deliveries the certificate covered, for a recall or a notice to buyers."""
    return await service.affected_lots(
        session, _peers(request), caller.principal, certificate_id, token=caller.token
    )


@router.post(
    "/certificates/{certificate_id}/attachments",
    status_code=201,
    response_model=AttachmentRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def attach_certificate(
    session: SessionDep, request: Request, caller: CurrentCaller, certificate_id: str, body: AttachmentCreate
) -> AttachmentRead:
    """Attach a certificate to a lot the exporter holds: only if it covers every contributing plot."""
    return await service.attach(
        session, _peers(request), caller.principal, certificate_id, lot_id=body.lot_id, token=caller.token
    )


@router.post(
    "/verifications",
    status_code=201,
    response_model=VerificationRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def record_verification(
    session: SessionDep, request: Request, principal: CurrentUser, body: VerificationCreate
) -> VerificationRead:
    """Record a coca-free or deforestation-free verification of a plot (certifiers)."""
    return await service.record_verification(session, _peers(request), principal, data=body)


@router.get(
    "/verifications", response_model=Page[VerificationRead], tags=["certification"], responses=READ_ERRORS
)
async def list_verifications(
    session: SessionDep, _principal: CurrentUser, page: PageDep, plot_id: str | None = None
) -> Page[VerificationRead]:
    """Verifications, optionally of one plot, oldest first."""
    return await service.list_verifications(session, page=page, plot_id=plot_id)


@router.post(
    "/monitoring-layers",
    status_code=201,
    response_model=LayerRead,
    tags=["certification"],
    responses=WRITE_ERRORS,
)
async def load_monitoring_layer(
    session: SessionDep, request: Request, principal: CurrentUser, body: LayerCreate
) -> LayerRead:
    """Load a coca, forest-loss or protected-area layer; every plot it touches is flagged (admins)."""
    return await service.load_layer(session, _peers(request), principal, data=body)


@router.get(
    "/monitoring-layers", response_model=Page[LayerRead], tags=["certification"], responses=READ_ERRORS
)
async def list_monitoring_layers(
    session: SessionDep, _principal: CurrentUser, page: PageDep
) -> Page[LayerRead]:
    """Monitoring layers, oldest first."""
    return await service.list_layers(session, page=page)


@router.get(
    "/monitoring-layers/{layer_id}", response_model=LayerRead, tags=["certification"], responses=READ_ERRORS
)
async def read_monitoring_layer(session: SessionDep, _principal: CurrentUser, layer_id: str) -> LayerRead:
    """One monitoring layer, with how many plots it flagged."""
    return await service.get_layer(session, layer_id)


@router.get(
    "/monitoring-layers/{layer_id}/flags",
    response_model=Page[PlotFlagRead],
    tags=["certification"],
    responses=READ_ERRORS,
)
async def monitoring_layer_flags(
    session: SessionDep, _principal: CurrentUser, layer_id: str, page: PageDep
) -> Page[PlotFlagRead]:
    """The plots a layer flagged when it was loaded, with the feature and its date."""
    return await service.layer_flags(session, layer_id, page=page)


@router.get("/claims/version", response_model=ClaimsVersion, tags=["claims"])
async def claims_version(session: SessionDep) -> ClaimsVersion:
    """A version of everything claims rest on here: while it stays the same, so do the claims."""
    return await service.claims_version(session)


@router.get(
    "/claims/lots/{lot_id}", response_model=Claims, tags=["claims"], responses=problem_responses(404, 503)
)
async def lot_claims(session: SessionDep, request: Request, lot_id: str) -> Claims:
    """Organic (per standard), coca-free and deforestation-free, computed now from every contributing plot."""
    window: int = request.app.state.settings.coca_free_window_months
    return await service.compute_claims(session, _peers(request), lot_id, window_months=window)


@router.post(
    "/claims/lots", response_model=ClaimsOfLots, tags=["claims"], responses=problem_responses(422, 503)
)
async def claims_of_lots(session: ReadSessionDep, request: Request, body: ClaimsAsk) -> ClaimsOfLots:
    """The claims of up to 100 lots at once, each as its own route gives them; reads only."""
    window: int = request.app.state.settings.coca_free_window_months
    claims = await service.compute_claims_many(session, _peers(request), body.lot_ids, window_months=window)
    return ClaimsOfLots(items=claims)


@router.get(
    "/claims/lots/{lot_id}/eudr.geojson",
    tags=["claims"],
    response_class=Response,
    responses={
        **problem_responses(401, 403, 404, 422, 503),
        200: {
            "description": "EUDR due-diligence geolocation: a GeoJSON FeatureCollection of exactly the "
            "plots behind the lot.",
            "content": {GEOJSON: {"schema": {"type": "object"}}},
        },
    },
)
async def lot_eudr_geojson(request: Request, caller: CurrentCaller, lot_id: str) -> Response:
    """The lot's EUDR geolocation file (exporters, managers)."""
    body = await service.eudr_geojson(_peers(request), caller.principal, lot_id, token=caller.token)
    return Response(
        body,
        media_type=GEOJSON,
        headers={"Content-Disposition": f'attachment; filename="eudr-{lot_id}.geojson"'},
    )
