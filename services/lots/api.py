"""Routes of the lot ledger: parse, call the service, return a schema."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives.client import CooperativesClient
from services.lots import service
from services.lots.labels import SheetLayout
from services.lots.labels.qr import MEDIA_TYPES, QrFormat
from services.lots.public.warm import PageWarmer
from services.lots.repository import Origins
from services.lots.rules import Form, Product, yield_table_markdown
from services.lots.schemas import (
    CorrectionEvent,
    DeliveryCreate,
    EventCreate,
    EventRead,
    FairCatalog,
    FairCreate,
    FairRead,
    LineageRead,
    LotRead,
    MergeCreate,
    OriginsAsk,
    OriginsRead,
    ProvenanceRead,
    SplitCreate,
    SplitResult,
    TransformCreate,
)
from shared.auth import CurrentCaller, CurrentUser, Principal
from shared.errors import problem_responses
from shared.pagination import Page, PageParams, page_params
from shared.uow import request_read_session, request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(request_read_session)]
PageDep = Annotated[PageParams, Depends(page_params)]
LotStatus = Literal["active", "depleted", "shipped", "sold"]

router = APIRouter(prefix="/api/v1")
READ_ERRORS = problem_responses(401, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _base_url(request: Request) -> str:
    url: str = request.app.state.settings.public_base_url
    return url


def _cooperatives(request: Request) -> CooperativesClient:
    client: CooperativesClient = request.app.state.cooperatives
    return client


@router.post(
    "/lots",
    status_code=201,
    response_model=LotRead,
    tags=["lots"],
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def record_delivery(
    session: SessionDep, request: Request, caller: CurrentCaller, body: DeliveryCreate
) -> LotRead:
    """Record a farmer's delivery (acopio): a new lot, checked against the registry."""
    return await service.record_delivery(
        session,
        _cooperatives(request),
        caller.principal,
        token=caller.token,
        data=body,
        public_base_url=_base_url(request),
    )


@router.post("/lots/merge", status_code=201, response_model=LotRead, tags=["lots"], responses=WRITE_ERRORS)
async def merge_lots(
    session: SessionDep, request: Request, principal: CurrentUser, body: MergeCreate
) -> LotRead:
    """Merge lots of one product and form into a new lot; each input gives the kilograms stated."""
    return await service.merge_lots(session, principal, data=body, public_base_url=_base_url(request))


@router.post(
    "/lots/{lot_id}/split", status_code=201, response_model=SplitResult, tags=["lots"], responses=WRITE_ERRORS
)
async def split_lot(
    session: SessionDep, request: Request, principal: CurrentUser, lot_id: str, body: SplitCreate
) -> SplitResult:
    """Split a lot into new lots (export bags); together they take at most what is left."""
    lots = await service.split_lot(session, principal, lot_id, data=body, public_base_url=_base_url(request))
    return SplitResult(lots=lots)


@router.post(
    "/lots/{lot_id}/transform",
    status_code=201,
    response_model=LotRead,
    tags=["lots"],
    responses=WRITE_ERRORS,
    description="Ferment, dry, hull or sort a lot into a new lot. The output's weight must be inside "
    "the process's yield range (output ÷ input):\n\n" + yield_table_markdown(),
)
async def transform_lot(
    session: SessionDep, request: Request, principal: CurrentUser, lot_id: str, body: TransformCreate
) -> LotRead:
    return await service.transform_lot(
        session, principal, lot_id, data=body, public_base_url=_base_url(request)
    )


@router.post(
    "/lots/{lot_id}/events", status_code=201, response_model=EventRead, tags=["lots"], responses=WRITE_ERRORS
)
async def record_event(
    session: SessionDep, principal: CurrentUser, lot_id: str, body: EventCreate
) -> EventRead:
    """Record quality, storage, shipment, handover, fair or sale — or a correction of an earlier event."""
    if isinstance(body, CorrectionEvent):
        return await service.record_correction(session, principal, lot_id, body=body)
    return await service.record_observation(session, principal, lot_id, body=body)


@router.get("/lots", response_model=Page[LotRead], tags=["lots"], responses=READ_ERRORS)
async def list_lots(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    page: PageDep,
    cooperative_id: str | None = None,
    status: LotStatus | None = None,
    product: Product | None = None,
    form: Form | None = None,
    origin: Literal["delivery", "merge", "split", "transformation"] | None = None,
    from_plots: Annotated[
        str | None, Query(description="Comma-separated plot ids: only lots made from their deliveries.")
    ] = None,
    from_farmers: Annotated[
        str | None, Query(description="Comma-separated farmer ids: only lots made from their deliveries.")
    ] = None,
    harvested_from: Annotated[
        date | None, Query(description="With from_plots/from_farmers: deliveries harvested on or after.")
    ] = None,
    harvested_to: Annotated[
        date | None, Query(description="With from_plots/from_farmers: deliveries harvested on or before.")
    ] = None,
) -> Page[LotRead]:
    """Lots the caller may see, newest last."""
    descends_from = None
    if from_plots is not None or from_farmers is not None:
        # Certificates recall every lot made from their scope (certification: affected-lots, issue #4).
        descends_from = Origins(
            plot_ids=_id_list(from_plots),
            farmer_ids=_id_list(from_farmers),
            harvested_from=harvested_from,
            harvested_to=harvested_to,
        )
    return await service.list_lots(
        session,
        principal,
        page=page,
        public_base_url=_base_url(request),
        cooperative_id=cooperative_id,
        status=status,
        product=product.value if product else None,
        form=form.value if form else None,
        origin=origin,
        descends_from=descends_from,
    )


# Declared before /lots/{lot_id}, or "labels.pdf" would be taken for a lot id.
@router.get(
    "/lots/labels.pdf",
    response_class=Response,
    tags=["labels"],
    responses={
        **problem_responses(401, 404, 422, 503),
        200: {"description": "A PDF of A4 pages of labels.", "content": {"application/pdf": {}}},
    },
)
async def label_sheet(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    ids: Annotated[
        str,
        Query(
            description=f"Comma-separated lot ids or lot codes, one label each in this order (a "
            f"repeated one prints again); at most {service.MAX_LABELS}. Codes keep a long list's URL "
            "short. Any the caller cannot read → 404 whose `lot_ids` lists them."
        ),
    ],
    columns: Annotated[int, Query(ge=1, le=8, description="Labels across the page.")] = 3,
    rows: Annotated[int, Query(ge=1, le=20, description="Labels down the page.")] = 8,
    margin_x_mm: Annotated[float, Query(ge=0, le=50, description="Left and right margin.")] = 0.0,
    margin_y_mm: Annotated[float, Query(ge=0, le=50, description="Top and bottom margin.")] = 0.5,
    gap_x_mm: Annotated[float, Query(ge=0, le=20, description="Space between columns.")] = 0.0,
    gap_y_mm: Annotated[float, Query(ge=0, le=20, description="Space between rows.")] = 0.0,
    skip: Annotated[
        int,
        Query(ge=0, le=159, description="Positions already used on the first sheet, left blank."),
    ] = 0,
    kg: Annotated[
        Literal["remaining", "quantity"],
        Query(description="Print what is left of the lot (default) or the weight it was made with."),
    ] = "remaining",
) -> Response:
    """A printable A4 sheet of labels (QR code, code, product, kg, cooperative, harvest); 3×8 by default."""
    layout = SheetLayout(columns, rows, margin_x_mm, margin_y_mm, gap_x_mm, gap_y_mm, skip)
    sheet = await service.label_sheet(
        session,
        _cooperatives(request),
        principal,
        lot_ids=service.parse_lot_ids(ids),
        layout=layout,
        kilograms=kg,
        public_base_url=_base_url(request),
    )
    # Printed for a fair: their public pages are built now, not at the first buyer's scan.
    warmer: PageWarmer | None = request.app.state.page_warmer
    if warmer is not None:
        warmer.schedule(sheet.codes)
    return Response(
        sheet.pdf,
        media_type="application/pdf",
        # The kilograms change as the lot is drawn on: never reuse a stored sheet without asking.
        headers={
            "Content-Disposition": 'inline; filename="etiquetas.pdf"',
            "Cache-Control": "private, no-cache",
        },
    )


async def _qr_response(
    session: AsyncSession, request: Request, principal: Principal, lot_id: str, fmt: QrFormat, size: int
) -> Response:
    image = await service.lot_qr(
        session, principal, lot_id, fmt=fmt, size=size, public_base_url=_base_url(request)
    )
    # A lot's link never changes; a day's private caching spares re-rendering, and the ETag the rest.
    headers = {"ETag": image.etag, "Cache-Control": "private, max-age=86400"}
    if image.etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(image.content, media_type=image.media_type, headers=headers)


def _qr_responses(fmt: QrFormat) -> dict[int | str, dict[str, Any]]:
    return {
        **READ_ERRORS,
        200: {
            "description": "The QR code (level Q, 4-module quiet zone).",
            "content": {MEDIA_TYPES[fmt]: {}},
        },
        304: {"description": "Unchanged since the ETag given in `If-None-Match`."},
    }


@router.get("/lots/{lot_id}/qr.svg", response_class=Response, tags=["labels"], responses=_qr_responses("svg"))
async def lot_qr_svg(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    lot_id: str,
    size: Annotated[
        int, Query(ge=2, le=40, description="Module size in tenths of a millimetre (10 = 1 mm).")
    ] = 10,
) -> Response:
    """The QR code of the lot's link (`digital_link`) as SVG."""
    return await _qr_response(session, request, principal, lot_id, "svg", size)


@router.get("/lots/{lot_id}/qr.png", response_class=Response, tags=["labels"], responses=_qr_responses("png"))
async def lot_qr_png(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    lot_id: str,
    size: Annotated[
        int, Query(ge=2, le=40, description="Pixels per module (10: about 3.5 cm at 300 dpi).")
    ] = 10,
) -> Response:
    """The QR code of the lot's link (`digital_link`) as PNG."""
    return await _qr_response(session, request, principal, lot_id, "png", size)


def _id_list(ids: str | None) -> list[str]:
    return [i for i in (ids or "").split(",") if i]


@router.get("/lots/{lot_id}", response_model=LotRead, tags=["lots"], responses=READ_ERRORS)
async def get_lot(session: SessionDep, request: Request, principal: CurrentUser, lot_id: str) -> LotRead:
    """One lot, with what is left of it."""
    return await service.get_lot(session, principal, lot_id, public_base_url=_base_url(request))


@router.get(
    "/lots/{lot_id}/events",
    response_model=Page[EventRead],
    tags=["lots"],
    responses={
        **READ_ERRORS,
        200: {
            "description": "The timeline, or with `format=epcis` an EPCIS 2.0 `EPCISDocument`.",
            "content": {"application/ld+json": {"schema": {"type": "object"}}},
        },
    },
)
async def lot_events(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    lot_id: str,
    page: PageDep,
    format: Annotated[
        Literal["json", "epcis"], Query(description="`epcis`: an EPCIS 2.0 JSON-LD document of every event.")
    ] = "json",
    scope: Annotated[
        Literal["lot", "lineage"],
        Query(description="`lineage`: also every ancestor lot's events (EPCIS only)."),
    ] = "lot",
) -> Any:
    """The lot's timeline, oldest first; corrected events say which correction voided them."""
    if format == "epcis":
        document = await service.epcis_document(
            session, principal, lot_id, scope=scope, public_base_url=_base_url(request)
        )
        return JSONResponse(
            document,
            media_type="application/ld+json",
            headers={"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"},
        )
    return await service.timeline(session, principal, lot_id, page=page)


@router.get("/lots/{lot_id}/lineage", response_model=LineageRead, tags=["lots"], responses=READ_ERRORS)
async def lot_lineage(session: SessionDep, principal: CurrentUser, lot_id: str) -> LineageRead:
    """Every ancestor lot down to the deliveries, with the kilograms each contributes."""
    return await service.lineage(session, principal, lot_id)


@router.post(
    "/lots/origins",
    response_model=OriginsRead,
    tags=["lots"],
    responses=problem_responses(401, 422),
)
async def lots_origins(session: ReadSessionDep, principal: CurrentUser, body: OriginsAsk) -> OriginsRead:
    """The deliveries of up to 500 lots at once, as each one's lineage gives them; reads only."""
    return await service.origins(session, principal, body.lot_ids)


@router.get("/lots/{lot_id}/provenance", response_model=ProvenanceRead, tags=["lots"], responses=READ_ERRORS)
async def lot_provenance(session: SessionDep, principal: CurrentUser, lot_id: str) -> ProvenanceRead:
    """Plots, farmers, districts and cooperatives behind the lot, each with its share by weight."""
    return await service.provenance(session, principal, lot_id)


@router.post(
    "/fairs",
    status_code=201,
    response_model=FairRead,
    tags=["fairs"],
    responses=problem_responses(401, 403, 422),
)
async def create_fair(session: SessionDep, principal: CurrentUser, body: FairCreate) -> FairRead:
    """Register a trade fair (Expoalimentaria, Salón del Cacao y Chocolate, …)."""
    return await service.create_fair(session, principal, data=body)


@router.get("/fairs", response_model=Page[FairRead], tags=["fairs"], responses=problem_responses(422))
async def list_fairs(session: SessionDep, page: PageDep) -> Page[FairRead]:
    """Trade fairs (public)."""
    return await service.list_fairs(session, page=page)


@router.get("/fairs/{fair_id}", response_model=FairRead, tags=["fairs"], responses=problem_responses(404))
async def get_fair(session: SessionDep, fair_id: str) -> FairRead:
    """One trade fair (public)."""
    return await service.get_fair(session, fair_id)


@router.get(
    "/fairs/{fair_id}/catalog",
    response_model=FairCatalog,
    tags=["fairs"],
    responses=problem_responses(404, 422),
)
async def fair_catalog(session: SessionDep, request: Request, fair_id: str, page: PageDep) -> FairCatalog:
    """The lots presented at a fair (public: no personal data)."""
    return await service.fair_catalog(session, fair_id, page=page, public_base_url=_base_url(request))
