"""The registry's rules: what makes a cooperative, farmer or plot valid, and who may see it.

Services flush, never commit: the request's unit of work commits (shared/uow.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives import repository
from services.cooperatives.geo import derive_districts, validate_plot_geometry
from services.cooperatives.identifiers import (
    lookup_ubigeo,
    validate_company_prefix,
    validate_dni,
    validate_gln,
    validate_gtin14,
    validate_ruc,
)
from services.cooperatives.models import Cooperative, Farmer, Plot
from services.cooperatives.reference import districts, fold, regions
from services.cooperatives.schemas import (
    CooperativeCreate,
    CooperativeRead,
    CooperativeUpdate,
    FarmerCreate,
    FarmerRead,
    PlotCreate,
    PlotOrigin,
    PlotRead,
)
from shared.auth import Principal, Role
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import new_id
from shared.pagination import MAX_LIMIT, Page, PageParams, make_page

# A batch lookup fits one page: a peer resolving many plots makes one call per page, not per plot.
MAX_IDS = MAX_LIMIT
# A lot's lineage can reach thousands of plots; the certification service resolves them in one call
# (issue #4: the calls to other services must not grow with the number of plots).
MAX_LOOKUP_IDS = 10_000

# cooperatives


def search_text(name: str, ruc: str) -> str:
    return f"{fold(name)} {ruc}"


def check_gs1(
    products: Sequence[str], prefix: str | None, gln: str | None, gtins: dict[Any, str] | None
) -> dict[str, str] | None:
    if prefix is not None:
        validate_company_prefix(prefix)
    if gln is not None:
        validate_gln(gln)
    if not gtins:
        return None
    checked: dict[str, str] = {}
    for product, gtin in gtins.items():
        key = str(getattr(product, "value", product))
        field = f"gtins.{key}"
        if key not in products:
            raise ValidationFailed.single(
                field, "gtin_product_not_offered", f"The cooperative does not list {key} among its products."
            )
        gtin14 = validate_gtin14(gtin, field)
        if prefix is not None and not gtin14[1:].startswith(prefix):
            raise ValidationFailed.single(
                field, "gtin_prefix_mismatch", f"GTIN {gtin14} does not carry the company prefix {prefix}."
            )
        checked[key] = gtin14
    return checked


async def create_cooperative(session: AsyncSession, *, data: CooperativeCreate) -> CooperativeRead:
    ruc = validate_ruc(data.ruc)
    district = lookup_ubigeo(data.ubigeo)
    products = sorted({p.value for p in data.products})
    gtins = check_gs1(products, data.gs1_company_prefix, data.gln, data.gtins)
    if await repository.ruc_exists(session, ruc):
        raise Conflict(f"A cooperative with RUC {ruc} is already registered.", code="ruc_taken")
    coop = Cooperative(
        id=new_id("coop"),
        name=data.name,
        ruc=ruc,
        kind=data.kind.value,
        ubigeo=district.ubigeo,
        region=district.region,
        province=district.province,
        district=district.district,
        products=products,
        gs1_company_prefix=data.gs1_company_prefix,
        gln=data.gln,
        gtins=gtins,
        search_text=search_text(data.name, ruc),
    )
    await flush_unique(session, coop, "ruc_taken", f"A cooperative with RUC {ruc} is already registered.")
    return CooperativeRead.model_validate(coop)


async def update_cooperative(
    session: AsyncSession, principal: Principal, *, cooperative_id: str, data: CooperativeUpdate
) -> CooperativeRead:
    if principal.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden("Only admins and the cooperative's manager may change it.", code="role_required")
    coop = await repository.get_cooperative_for_update(session, cooperative_id)
    if coop is None or not principal.can_write_cooperative(cooperative_id):
        raise NotFound("No such cooperative.")
    changes = data.model_dump(exclude_unset=True)
    if "ubigeo" in changes:
        district = lookup_ubigeo(changes.pop("ubigeo"))
        coop.ubigeo, coop.region, coop.province, coop.district = (
            district.ubigeo,
            district.region,
            district.province,
            district.district,
        )
    if "products" in changes:
        coop.products = sorted({p.value for p in data.products or []})
        changes.pop("products")
    if "kind" in changes:
        coop.kind = changes.pop("kind").value
    for name in ("name", "gs1_company_prefix", "gln"):
        if name in changes:
            setattr(coop, name, changes.pop(name))
    gtins = data.gtins if "gtins" in changes else coop.gtins
    coop.gtins = check_gs1(coop.products, coop.gs1_company_prefix, coop.gln, gtins)
    coop.search_text = search_text(coop.name, coop.ruc)
    coop.updated_at = utcnow()
    await session.flush()
    return CooperativeRead.model_validate(coop)


async def get_cooperative(session: AsyncSession, *, cooperative_id: str) -> CooperativeRead:
    coop = await repository.get_cooperative(session, cooperative_id)
    if coop is None:
        raise NotFound("No such cooperative.")
    return CooperativeRead.model_validate(coop)


def region_code(region: str) -> str:
    wanted = fold(region)
    for code, name in regions().items():
        if wanted in (code, fold(name)):
            return code
    raise ValidationFailed.single(
        "region", "region_unknown", f"'{region}' is not a department of Peru (name or 2-digit INEI code)."
    )


async def list_cooperatives(
    session: AsyncSession, *, page: PageParams, product: str | None, region: str | None, query: str | None
) -> Page[CooperativeRead]:
    rows = await repository.list_cooperatives(
        session,
        page,
        product=product,
        region_code=region_code(region) if region else None,
        query=fold(query) if query else None,
    )
    kept, cursor = make_page(rows, page, lambda c: (c.created_at, c.id))
    return Page[CooperativeRead](items=[CooperativeRead.model_validate(c) for c in kept], next=cursor)


# farmers


async def _visible_cooperative(
    session: AsyncSession, principal: Principal, cooperative_id: str, *, write: bool
) -> Cooperative:
    allowed = (
        principal.can_write_cooperative(cooperative_id)
        if write
        else principal.can_see_cooperative(cooperative_id)
    )
    coop = await repository.get_cooperative(session, cooperative_id) if allowed else None
    if coop is None:
        # 404, not 403: a manager must not learn that another cooperative's object exists.
        raise NotFound("No such cooperative.")
    return coop


async def create_farmer(
    session: AsyncSession, principal: Principal, *, cooperative_id: str, data: FarmerCreate
) -> FarmerRead:
    await _visible_cooperative(session, principal, cooperative_id, write=True)
    dni = validate_dni(data.dni) if data.dni else None
    if dni and await repository.dni_exists(session, cooperative_id, dni):
        raise Conflict(f"A farmer with DNI {dni} is already a member of this cooperative.", code="dni_taken")
    farmer = Farmer(
        id=new_id("farm"),
        cooperative_id=cooperative_id,
        name=data.name,
        name_key=fold(data.name),
        dni=dni,
        gender=data.gender.value if data.gender else None,
        joined_on=data.joined_on,
        public_name_consent=data.public_name_consent,
    )
    await flush_unique(session, farmer, "dni_taken", "A farmer with this DNI is already a member.")
    return FarmerRead.model_validate(farmer)


async def _visible_farmer(
    session: AsyncSession, principal: Principal, farmer_id: str, *, write: bool
) -> Farmer:
    farmer = await repository.get_farmer(session, farmer_id)
    if farmer is None:
        raise NotFound("No such farmer.")
    allowed = (principal.can_write_cooperative if write else principal.can_see_cooperative)(
        farmer.cooperative_id
    )
    if not allowed:
        raise NotFound("No such farmer.")
    return farmer


async def get_farmer(session: AsyncSession, principal: Principal, *, farmer_id: str) -> FarmerRead:
    return FarmerRead.model_validate(await _visible_farmer(session, principal, farmer_id, write=False))


async def list_farmers(
    session: AsyncSession,
    principal: Principal,
    *,
    cooperative_id: str,
    page: PageParams,
    query: str | None = None,
    dni: str | None = None,
) -> Page[FarmerRead]:
    await _visible_cooperative(session, principal, cooperative_id, write=False)
    rows, cursor = make_page(
        await repository.list_farmers(session, cooperative_id, page, query=query, dni=dni),
        page,
        lambda f: (f.created_at, f.id),
    )
    return Page[FarmerRead](items=[FarmerRead.model_validate(f) for f in rows], next=cursor)


# plots


def plot_read(plot: Plot) -> PlotRead:
    district = districts()[plot.ubigeo]
    read = PlotRead(
        id=plot.id,
        farmer_id=plot.farmer_id,
        cooperative_id=plot.cooperative_id,
        name=plot.name,
        crop=plot.crop,
        geometry=json.loads(plot.geometry),
        area_ha=plot.area_ha,
        altitude_m=plot.altitude_m,
        organic_since=plot.organic_since,
        ubigeo=district.ubigeo,
        region=district.region,
        province=district.province,
        district=district.district,
        created_at=plot.created_at,
    )
    read._geometry_text = plot.geometry
    return read


async def create_plot(
    session: AsyncSession, principal: Principal, *, farmer_id: str, data: PlotCreate, geometry: Any
) -> PlotRead:
    """``geometry`` is the body's geometry parsed with Decimal, so the digits sent can be checked."""
    farmer = await _visible_farmer(session, principal, farmer_id, write=True)
    coop = await repository.get_cooperative(session, farmer.cooperative_id)
    assert coop is not None
    if data.crop.value not in coop.products:
        raise ValidationFailed.single(
            "crop", "crop_not_offered", f"The cooperative does not list {data.crop.value} among its products."
        )
    checked = validate_plot_geometry(
        geometry, area_ha=Decimal(data.area_ha) if data.area_ha is not None else None
    )
    ubigeo = lookup_ubigeo(data.ubigeo).ubigeo if data.ubigeo is not None else None
    columns = checked.columns(ubigeo=ubigeo)
    derive_districts([columns])
    plot = Plot(
        id=new_id("plot"),
        farmer_id=farmer.id,
        cooperative_id=farmer.cooperative_id,
        name=data.name,
        crop=data.crop.value,
        altitude_m=data.altitude_m,
        organic_since=data.organic_since,
        **columns,
    )
    await flush_unique(
        session, plot, "plot_name_taken", f"The farmer already has a plot named '{data.name}'."
    )
    return plot_read(plot)


async def get_plot(session: AsyncSession, principal: Principal, *, plot_id: str) -> PlotRead:
    plot = await repository.get_plot(session, plot_id)
    if plot is None or not principal.can_see_cooperative(plot.cooperative_id):
        raise NotFound("No such plot.")
    return plot_read(plot)


async def get_plot_origin(session: AsyncSession, principal: Principal, *, plot_id: str) -> PlotOrigin:
    """What a delivery from this plot must check, from one read: the same access rule as ``get_plot``."""
    found = await repository.get_plot_origin(session, plot_id)
    if found is None:
        raise NotFound("No such plot.")
    plot, farmer, coop = found
    if not (
        principal.can_see_cooperative(plot.cooperative_id)
        and principal.can_see_cooperative(farmer.cooperative_id)
    ):
        raise NotFound("No such plot.")
    return PlotOrigin(
        plot=plot_read(plot),
        farmer=FarmerRead.model_validate(farmer),
        cooperative=CooperativeRead.model_validate(coop),
    )


async def list_plots(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    cooperative_id: str | None,
    farmer_id: str | None,
    ids: Sequence[str] | None,
) -> Page[PlotRead]:
    if ids is not None and len(ids) > MAX_IDS:
        raise ValidationFailed.single("ids", "too_many_ids", f"Ask for at most {MAX_IDS} ids at a time.")
    if cooperative_id is not None:
        await _visible_cooperative(session, principal, cooperative_id, write=False)
    if farmer_id is not None:
        await _visible_farmer(session, principal, farmer_id, write=False)
    if cooperative_id is None and farmer_id is None:
        if principal.role is Role.MANAGER:
            cooperative_id = principal.cooperative_id
        elif not principal.can_see_cooperative(""):
            raise Forbidden(
                "Plots are visible to admins, certifiers and each cooperative's manager.",
                code="role_required",
            )
    rows, cursor = make_page(
        await repository.list_plots(
            session, page, cooperative_id=cooperative_id, farmer_id=farmer_id, ids=ids
        ),
        page,
        lambda p: (p.created_at, p.id),
    )
    return Page[PlotRead](items=[plot_read(p) for p in rows], next=cursor)


async def lookup_plots(session: AsyncSession, principal: Principal, *, ids: Sequence[str]) -> list[PlotRead]:
    """Plots by id, all in one answer; the same visibility as ``list_plots`` (unknown ids are left out)."""
    if len(ids) > MAX_LOOKUP_IDS:
        raise ValidationFailed.single(
            "ids", "too_many_ids", f"Ask for at most {MAX_LOOKUP_IDS} ids at a time."
        )
    if principal.role is Role.MANAGER:
        visible = principal.cooperative_id
    elif principal.can_see_cooperative(""):
        visible = None
    else:
        raise Forbidden(
            "Plots are visible to admins, certifiers and each cooperative's manager.", code="role_required"
        )
    plots = await repository.plots_by_ids(session, ids)
    return [plot_read(p) for p in plots if visible is None or p.cooperative_id == visible]


# helpers


async def flush_unique(session: AsyncSession, obj: Any, code: str, detail: str) -> None:
    """Add and flush; a unique index that a concurrent request beat us to becomes a 409."""
    try:
        async with session.begin_nested():
            session.add(obj)
    except IntegrityError as exc:
        raise Conflict(detail, code=code) from exc
