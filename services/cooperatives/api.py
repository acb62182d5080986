"""Routes of the registry: parse, call the service, return a schema."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives import imports, service
from services.cooperatives.rendering import PlotJSONResponse
from services.cooperatives.schemas import (
    CoarseMap,
    CooperativeCreate,
    CooperativeRead,
    CooperativeUpdate,
    FarmerCreate,
    FarmerRead,
    ImportResult,
    Me,
    PlotCreate,
    PlotLookup,
    PlotOrigin,
    PlotRead,
    Product,
    Token,
    UserCreate,
    UserRead,
)
from shared.auth import AdminUser, CurrentUser, TokenIssuer
from shared.errors import ValidationFailed, problem_responses
from shared.pagination import Page, PageParams, page_params
from shared.settings import Settings
from shared.uow import request_read_session, request_session

SessionDep = Annotated[AsyncSession, Depends(request_session)]
ReadSessionDep = Annotated[AsyncSession, Depends(request_read_session)]
PageDep = Annotated[PageParams, Depends(page_params)]
CsvFile = Annotated[UploadFile, File(description="UTF-8 CSV (a BOM is accepted) with a header row.")]
DryRun = Annotated[bool, Query(description="Validate every row and write nothing.")]

router = APIRouter(prefix="/api/v1")


def _issuer(request: Request) -> TokenIssuer:
    issuer: TokenIssuer = request.app.state.token_issuer
    return issuer


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/auth/token", response_model=Token, tags=["identity"], responses=problem_responses(401, 422))
async def create_token(
    session: ReadSessionDep,
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Log in with username and password (OAuth2 password form); returns a bearer token."""
    # RFC 6749 §5.1: a token is never cached, and so never stored as an idempotent replay either.
    response.headers["Cache-Control"] = "no-store"
    return await service.issue_token(
        session, _issuer(request), username=form.username, password=form.password
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserRead,
    tags=["identity"],
    responses=problem_responses(401, 403, 409, 422),
)
async def create_user(session: SessionDep, _admin: AdminUser, body: UserCreate) -> UserRead:
    """Create a user (admins only)."""
    return await service.create_user(session, data=body)


@router.get("/users", response_model=Page[UserRead], tags=["identity"], responses=problem_responses(401, 403))
async def list_users(session: SessionDep, _admin: AdminUser, page: PageDep) -> Page[UserRead]:
    """List users (admins only)."""
    return await service.list_users(session, page=page)


@router.get("/users/me", response_model=Me, tags=["identity"], responses=problem_responses(401))
async def read_me(principal: CurrentUser) -> Me:
    """Who the bearer token says the caller is."""
    return service.me(principal)


@router.post(
    "/cooperatives",
    status_code=201,
    response_model=CooperativeRead,
    tags=["registry"],
    responses=problem_responses(401, 403, 409, 422),
)
async def create_cooperative(
    session: SessionDep, _admin: AdminUser, body: CooperativeCreate
) -> CooperativeRead:
    """Register a cooperative or association (admins only)."""
    return await service.create_cooperative(session, data=body)


@router.get(
    "/cooperatives", response_model=Page[CooperativeRead], tags=["registry"], responses=problem_responses(422)
)
async def list_cooperatives(
    session: SessionDep,
    page: PageDep,
    product: Product | None = None,
    region: Annotated[str | None, Query(description="Department name or 2-digit code.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or RUC.")] = None,
) -> Page[CooperativeRead]:
    """List cooperatives (public)."""
    return await service.list_cooperatives(
        session, page=page, product=product.value if product else None, region=region, query=q
    )


UbigeosQuery = Annotated[list[str] | None, Query(description="INEI district ubigeos (6 digits), repeated.")]


@router.get(
    "/cooperatives/map", response_model=CoarseMap, tags=["registry"], responses=problem_responses(422)
)
async def coarse_map(ubigeo: UbigeosQuery = None) -> CoarseMap:
    """Peru's outline and where each district lies, to 0.1° (public): the map on a lot's public page."""
    return service.coarse_map(ubigeo or [])


@router.get(
    "/cooperatives/{cooperative_id}",
    response_model=CooperativeRead,
    tags=["registry"],
    responses=problem_responses(404),
)
async def read_cooperative(session: SessionDep, cooperative_id: str) -> CooperativeRead:
    """Read one cooperative (public)."""
    return await service.get_cooperative(session, cooperative_id=cooperative_id)


@router.patch(
    "/cooperatives/{cooperative_id}",
    response_model=CooperativeRead,
    tags=["registry"],
    responses=problem_responses(401, 403, 404, 422),
)
async def update_cooperative(
    session: SessionDep, principal: CurrentUser, cooperative_id: str, body: CooperativeUpdate
) -> CooperativeRead:
    """Change a cooperative (admins, or its own manager)."""
    return await service.update_cooperative(session, principal, cooperative_id=cooperative_id, data=body)


@router.post(
    "/cooperatives/import",
    response_model=ImportResult,
    tags=["registry"],
    responses={
        201: {"model": ImportResult, "description": "Every row imported."},
        **problem_responses(401, 403, 422),
    },
)
async def import_cooperatives(
    session: SessionDep, request: Request, _admin: AdminUser, file: CsvFile, dry_run: DryRun = False
) -> JSONResponse:
    """Import cooperatives from CSV, all or nothing (admins only)."""
    settings = _settings(request)
    result = await imports.import_cooperatives(
        session,
        file.file,
        dry_run=dry_run,
        batch_rows=settings.import_batch_rows,
        max_errors=settings.import_max_errors,
    )
    return JSONResponse(
        result.model_dump(mode="json", exclude_none=True), status_code=200 if dry_run else 201
    )


@router.post(
    "/cooperatives/{cooperative_id}/farmers",
    status_code=201,
    response_model=FarmerRead,
    tags=["registry"],
    responses=problem_responses(401, 404, 409, 422),
)
async def create_farmer(
    session: SessionDep, principal: CurrentUser, cooperative_id: str, body: FarmerCreate
) -> FarmerRead:
    """Register a member farmer of a cooperative."""
    return await service.create_farmer(session, principal, cooperative_id=cooperative_id, data=body)


@router.get(
    "/cooperatives/{cooperative_id}/farmers",
    response_model=Page[FarmerRead],
    tags=["registry"],
    responses=problem_responses(401, 404),
)
async def list_farmers(
    session: SessionDep,
    principal: CurrentUser,
    cooperative_id: str,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="Part of the farmer's name.")] = None,
    dni: Annotated[str | None, Query(pattern=r"^\d{8}$", description="Exact DNI.")] = None,
) -> Page[FarmerRead]:
    """List a cooperative's farmers, optionally searching by name or DNI."""
    return await service.list_farmers(
        session, principal, cooperative_id=cooperative_id, page=page, query=q, dni=dni
    )


@router.post(
    "/cooperatives/{cooperative_id}/farmers/import",
    response_model=ImportResult,
    tags=["registry"],
    responses={
        201: {"model": ImportResult, "description": "Every row imported."},
        **problem_responses(401, 404, 422),
    },
)
async def import_farmers(
    session: SessionDep,
    request: Request,
    principal: CurrentUser,
    cooperative_id: str,
    file: CsvFile,
    dry_run: DryRun = False,
) -> JSONResponse:
    """Import farmers with their plots from CSV (one row per plot), all or nothing."""
    settings = _settings(request)
    result = await imports.import_farmers(
        session,
        principal,
        file.file,
        cooperative_id=cooperative_id,
        dry_run=dry_run,
        batch_rows=settings.import_batch_rows,
        max_errors=settings.import_max_errors,
    )
    return JSONResponse(
        result.model_dump(mode="json", exclude_none=True), status_code=200 if dry_run else 201
    )


@router.get(
    "/farmers/{farmer_id}",
    response_model=FarmerRead,
    tags=["registry"],
    responses=problem_responses(401, 404),
)
async def read_farmer(session: SessionDep, principal: CurrentUser, farmer_id: str) -> FarmerRead:
    """Read one farmer."""
    return await service.get_farmer(session, principal, farmer_id=farmer_id)


async def _decimal_geometry(request: Request) -> Any:
    # Re-read the body with Decimal numbers: the EUDR's 6-decimal rule is about the digits sent.
    try:
        raw = json.loads(await request.body(), parse_float=Decimal)
    except ValueError as exc:
        raise ValidationFailed.single("body", "json_invalid", "The body is not JSON.") from exc
    return raw.get("geometry") if isinstance(raw, dict) else None


@router.post(
    "/farmers/{farmer_id}/plots",
    status_code=201,
    response_model=PlotRead,
    tags=["registry"],
    responses=problem_responses(401, 404, 422),
)
async def create_plot(
    session: SessionDep,
    principal: CurrentUser,
    farmer_id: str,
    body: PlotCreate,
    geometry: Annotated[Any, Depends(_decimal_geometry)],
) -> PlotJSONResponse:
    """Register a plot of a farmer; polygons get their area computed geodesically."""
    plot = await service.create_plot(session, principal, farmer_id=farmer_id, data=body, geometry=geometry)
    return PlotJSONResponse(plot, status_code=201)


@router.get(
    "/farmers/{farmer_id}/plots",
    response_model=Page[PlotRead],
    tags=["registry"],
    responses=problem_responses(401, 404),
)
async def list_farmer_plots(
    session: SessionDep, principal: CurrentUser, farmer_id: str, page: PageDep
) -> PlotJSONResponse:
    """List a farmer's plots."""
    plots = await service.list_plots(
        session, principal, page=page, cooperative_id=None, farmer_id=farmer_id, ids=None
    )
    return PlotJSONResponse(plots)


@router.get(
    "/plots/{plot_id}", response_model=PlotRead, tags=["registry"], responses=problem_responses(401, 404)
)
async def read_plot(session: SessionDep, principal: CurrentUser, plot_id: str) -> PlotJSONResponse:
    """Read one plot, with its exact geometry."""
    return PlotJSONResponse(await service.get_plot(session, principal, plot_id=plot_id))


@router.get(
    "/plots/{plot_id}/origin",
    response_model=PlotOrigin,
    tags=["registry"],
    responses=problem_responses(401, 404),
)
async def read_plot_origin(session: SessionDep, principal: CurrentUser, plot_id: str) -> PlotJSONResponse:
    """Read one plot with its farmer and cooperative, in one call (what a delivery checks)."""
    return PlotJSONResponse(await service.get_plot_origin(session, principal, plot_id=plot_id))


@router.get(
    "/plots",
    response_model=Page[PlotRead],
    tags=["registry"],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_plots(
    session: SessionDep,
    principal: CurrentUser,
    page: PageDep,
    cooperative_id: str | None = None,
    farmer_id: str | None = None,
    ids: Annotated[str | None, Query(description="Comma-separated plot ids, for batch lookups.")] = None,
) -> PlotJSONResponse:
    """List plots, by cooperative, farmer or ids."""
    id_list = [i for i in ids.split(",") if i] if ids is not None else None
    plots = await service.list_plots(
        session, principal, page=page, cooperative_id=cooperative_id, farmer_id=farmer_id, ids=id_list
    )
    return PlotJSONResponse(plots)


@router.post(
    "/plots/lookup",
    response_model=Page[PlotRead],
    tags=["registry"],
    responses=problem_responses(401, 403, 422),
)
async def lookup_plots(session: ReadSessionDep, principal: CurrentUser, body: PlotLookup) -> PlotJSONResponse:
    """Read many plots by id in one request (up to 10,000), with their exact geometry; reads only."""
    plots = await service.lookup_plots(session, principal, ids=body.ids)
    return PlotJSONResponse(Page[PlotRead](items=plots, next=None))
