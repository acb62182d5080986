"""QR codes and label sheets: who may print which lots, and what a label says.

A QR code or a label is a read of the lot, so it follows the lot's read rules (service/access.py):
a lot the caller may not see is 404, exactly as a lot that does not exist. A sheet names every id it
could not print, so a caller who typed one wrong code out of forty knows which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives.client import CooperativesClient
from services.lots import repository
from services.lots.codes import CODE_PATTERN, digital_link, normalise_code
from services.lots.labels import Label, QrImage, SheetLayout, qr_png, qr_svg, render_sheet
from services.lots.labels.qr import QrFormat
from services.lots.labels.sheet import KilogramsKind
from services.lots.repository import LotView
from services.lots.rules import to_kg
from services.lots.service.access import can_read
from services.lots.service.reading import readable_lot
from shared.auth import Principal
from shared.errors import FieldError, NotFound, ValidationFailed

# 500 labels is a crate of samples for a fair: about 21 pages of the default grid and a few seconds
# of rendering. More is a print shop's job, in several sheets.
MAX_LABELS: Final = 500
SEVERAL_COOPERATIVES: Final = "Varias cooperativas"


async def lot_link(session: AsyncSession, principal: Principal, lot_id: str, *, public_base_url: str) -> str:
    """The link a lot's QR code carries (its ``digital_link``), if the caller may read the lot."""
    lot = (await readable_lot(session, principal, lot_id)).lot
    return digital_link(public_base_url, lot.code, lot.gtin)


async def lot_qr(
    session: AsyncSession,
    principal: Principal,
    lot_id: str,
    *,
    fmt: QrFormat,
    size: int,
    public_base_url: str,
) -> QrImage:
    link = await lot_link(session, principal, lot_id, public_base_url=public_base_url)
    # qrcode is pure Python (~10 ms a symbol): off the event loop.
    if fmt == "svg":
        return await asyncio.to_thread(qr_svg, link, module_tenths_mm=size)
    return await asyncio.to_thread(qr_png, link, module_px=size)


def parse_lot_ids(raw: str) -> list[str]:
    """``a,b,c`` → lot ids or codes in order; blanks dropped; a repeated one prints once per mention."""
    return [part.strip() for part in raw.split(",") if part.strip()]


async def _named_lots(session: AsyncSession, names: Sequence[str]) -> dict[str, LotView]:
    """Each name given (a lot id, or a lot code as printed on the sack) → its lot, in one query.

    Codes are accepted because they are what an exporter reads off the sacks, and because 500 of
    them keep the URL near 5 KB where 500 ids take 18 KB, past common proxies' 8 KB request line.
    """
    codes = {name: normalise_code(name) for name in names if CODE_PATTERN.match(normalise_code(name))}
    views = await repository.get_lots_by_ids_or_codes(
        session, [n for n in names if n not in codes], codes.values()
    )
    by_id = {v.lot.id: v for v in views}
    by_code = {v.lot.code: v for v in views}
    found = {name: by_code.get(codes[name]) if name in codes else by_id.get(name) for name in names}
    return {name: view for name, view in found.items() if view is not None}


def _check_request(lot_ids: Sequence[str], layout: SheetLayout) -> None:
    errors = []
    if not lot_ids:
        errors.append(FieldError(field="ids", code="ids_missing", detail="Give at least one lot id."))
    elif len(lot_ids) > MAX_LABELS:
        errors.append(
            FieldError(
                field="ids",
                code="too_many_labels",
                detail=f"{len(lot_ids)} labels asked for; one sheet prints at most {MAX_LABELS}.",
            )
        )
    problem = layout.problem()
    if problem:
        field, code, detail = problem
        errors.append(FieldError(field=field, code=code, detail=detail))
    if errors:
        raise ValidationFailed("; ".join(e.detail for e in errors), errors=errors)


async def _cooperative_names(cooperatives: CooperativesClient, ids: set[str]) -> dict[str, str]:
    """One call per distinct cooperative, never one per lot; a sheet rarely spans more than a few."""
    return {i: (await cooperatives.get_cooperative(i)).name for i in sorted(ids)}


class PrintedSheet(NamedTuple):
    pdf: bytes
    codes: list[str]  # the lots printed, each once: their pages are worth building ahead


async def label_sheet(
    session: AsyncSession,
    cooperatives: CooperativesClient,
    principal: Principal,
    *,
    lot_ids: Sequence[str],
    layout: SheetLayout,
    kilograms: KilogramsKind,
    public_base_url: str,
) -> PrintedSheet:
    """A PDF of one label per id, in the order given; 404 naming every id the caller cannot see."""
    _check_request(lot_ids, layout)
    unique = list(dict.fromkeys(lot_ids))
    views = await _named_lots(session, unique)
    hidden = [i for i in unique if i not in views or not can_read(principal, views[i].lot, views[i].state)]
    if hidden:
        raise NotFound(
            f"No lot{'s' if len(hidden) > 1 else ''} {', '.join(hidden)} that you can see.",
            code="lot_not_found",
            extra={"lot_ids": hidden},
        )
    harvests = await repository.harvest_periods(session, {v.lot.id for v in views.values()})
    names = await _cooperative_names(
        cooperatives, {v.lot.cooperative_id for v in views.values() if v.lot.cooperative_id}
    )
    labels = []
    for lot_id in lot_ids:
        lot, state = views[lot_id].lot, views[lot_id].state
        first, last = harvests.get(lot.id, (None, None))
        labels.append(
            Label(
                link=digital_link(public_base_url, lot.code, lot.gtin),
                code=lot.code,
                product=lot.product,
                form=lot.form,
                kilograms=to_kg(state.remaining_g if kilograms == "remaining" else state.quantity_g),
                kilograms_kind=kilograms,
                cooperative=names[lot.cooperative_id] if lot.cooperative_id else SEVERAL_COOPERATIVES,
                harvested_from=first,
                harvested_to=last,
            )
        )
    pdf = await asyncio.to_thread(render_sheet, labels, layout)
    return PrintedSheet(pdf, list(dict.fromkeys(label.code for label in labels)))
