"""Reading the ledger: lots, timelines, EPCIS documents, lineage, provenance, fairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.lots import repository
from services.lots.codes import digital_link
from services.lots.epcis import EpcisRenderer, LotKey
from services.lots.models import LotEvent
from services.lots.repository import LotView, Origins
from services.lots.rules import to_kg
from services.lots.schemas import (
    CatalogEntry,
    EventRead,
    FairCatalog,
    FairRead,
    LineageRead,
    LotOrigin,
    LotRead,
    OriginsRead,
    ProvenanceRead,
)
from services.lots.service.access import can_read, readable
from services.lots.service.common import to_read
from services.lots.service.events import event_read
from services.lots.service.lineage import lineage_graph, lineage_read, provenance_read
from shared.auth import Principal, Role
from shared.errors import NotFound
from shared.pagination import Page, PageParams, make_page

EventScope = Literal["lot", "lineage"]


async def readable_lot(session: AsyncSession, principal: Principal, lot_id: str) -> LotView:
    return readable(principal, await repository.get_lot(session, lot_id), lot_id)


async def get_lot(
    session: AsyncSession, principal: Principal, lot_id: str, *, public_base_url: str
) -> LotRead:
    return to_read(await readable_lot(session, principal, lot_id), public_base_url)


async def list_lots(
    session: AsyncSession,
    principal: Principal,
    *,
    page: PageParams,
    public_base_url: str,
    cooperative_id: str | None = None,
    status: str | None = None,
    product: str | None = None,
    form: str | None = None,
    origin: str | None = None,
    descends_from: Origins | None = None,
) -> Page[LotRead]:
    holder = None
    if principal.role is Role.MANAGER:
        if cooperative_id is not None and cooperative_id != principal.cooperative_id:
            raise NotFound(f"No cooperative {cooperative_id} that you manage.", code="cooperative_not_found")
        cooperative_id = principal.cooperative_id or "-"
    elif principal.role is Role.EXPORTER:
        holder = principal.organization or "-"
    rows = await repository.list_lots(
        session,
        page,
        cooperative_id=cooperative_id,
        holder_organization=holder,
        status=status,
        product=product,
        form=form,
        origin=origin,
        descends_from=descends_from,
    )
    kept, cursor = make_page(rows, page, lambda row: [row[0].created_at, row[0].id])
    return Page(items=[to_read(LotView(*row), public_base_url) for row in kept], next=cursor)


async def timeline(
    session: AsyncSession, principal: Principal, lot_id: str, *, page: PageParams
) -> Page[EventRead]:
    await readable_lot(session, principal, lot_id)
    rows = await repository.timeline(session, lot_id, page)
    kept, cursor = make_page(rows, page, lambda row: [row[0].event_time, row[0].id])
    return Page(items=[event_read(event, corrected_by) for event, corrected_by in kept], next=cursor)


async def epcis_document(
    session: AsyncSession, principal: Principal, lot_id: str, *, scope: EventScope, public_base_url: str
) -> dict[str, Any]:
    await readable_lot(session, principal, lot_id)
    lot_ids: Any = repository.ancestor_ids(session, lot_id) if scope == "lineage" else [lot_id]
    rows = await repository.all_events(session, lot_ids)
    events: dict[str, LotEvent] = {event.id: event for event, _ in rows}
    corrections: dict[str, LotEvent] = {
        event.corrects_event_id: event for event in events.values() if event.corrects_event_id
    }
    subjects = await repository.get_lots(session, {event.lot_id for event in events.values()})
    renderer = EpcisRenderer(
        public_base_url, {i: LotKey(v.lot.code, v.lot.gtin) for i, v in subjects.items()}
    )
    return renderer.document([(event, corrections.get(event.id)) for event in events.values()])


async def lineage(session: AsyncSession, principal: Principal, lot_id: str) -> LineageRead:
    return lineage_read(await lineage_graph(session, await readable_lot(session, principal, lot_id)))


async def origins(session: AsyncSession, principal: Principal, lot_ids: Sequence[str]) -> OriginsRead:
    """Each lot's deliveries, as its lineage gives them, for many lots in one request (claims of a
    batch of pages built ahead). A lot that does not exist or that the caller may not read is left
    out, as an unknown plot is from a plot lookup."""
    wanted = list(dict.fromkeys(lot_ids))
    views = await repository.get_lots(session, wanted)
    items = []
    for lot_id in wanted:
        view = views.get(lot_id)
        if view is None or not can_read(principal, view.lot, view.state):
            continue
        read = lineage_read(await lineage_graph(session, view))
        items.append(LotOrigin(lot_id=lot_id, product=view.lot.product, deliveries=read.deliveries))
    return OriginsRead(items=items)


async def provenance(session: AsyncSession, principal: Principal, lot_id: str) -> ProvenanceRead:
    return provenance_read(await lineage_graph(session, await readable_lot(session, principal, lot_id)))


async def get_fair(session: AsyncSession, fair_id: str) -> FairRead:
    fair = await repository.get_fair(session, fair_id)
    if fair is None:
        raise NotFound(f"No fair {fair_id}.", code="fair_not_found")
    return FairRead.model_validate(fair, from_attributes=True)


async def list_fairs(session: AsyncSession, *, page: PageParams) -> Page[FairRead]:
    rows = await repository.list_fairs(session, page)
    kept, cursor = make_page(rows, page, lambda fair: [fair.created_at, fair.id])
    return Page(items=[FairRead.model_validate(f, from_attributes=True) for f in kept], next=cursor)


async def fair_catalog(
    session: AsyncSession, fair_id: str, *, page: PageParams, public_base_url: str
) -> FairCatalog:
    """Public: what an exporter shows at a fair — codes, product, weight, grade; nothing personal."""
    fair = await get_fair(session, fair_id)
    rows = await repository.catalog(session, fair_id, page)
    kept, cursor = make_page(rows, page, lambda row: [row[0].event_id])
    quality = await repository.latest_quality(session, [row[2].id for row in kept])
    items = []
    for presentation, event, lot, state in kept:
        measured = quality.get(lot.id)
        items.append(
            CatalogEntry(
                lot_id=lot.id,
                code=lot.code,
                digital_link=digital_link(public_base_url, lot.code, lot.gtin),
                product=lot.product,
                form=lot.form,
                quantity_kg=to_kg(state.quantity_g),
                remaining_kg=to_kg(state.remaining_g),
                cooperative_id=lot.cooperative_id,
                presented_by=presentation.presented_by,
                booth=event.data.get("booth"),
                presented_at=event.event_time,
                quality=dict(measured.data) if measured else None,
            )
        )
    return FairCatalog(fair=fair, items=items, next=cursor)
