"""Who may see and act on a lot (ARCHITECTURE.md: Identity and access).

A lot is held by its cooperative until a handover passes it to an exporter's organisation. The
cooperative's managers act on it while they hold it and still read it afterwards (it is their
members' cacao); the exporter reads and acts only on what was handed to it. Anyone else gets 404,
so the API never confirms that another cooperative's lot exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.lots.models import Lot, LotState
from services.lots.repository import LotView
from shared.auth import Principal, Role
from shared.errors import Forbidden, NotFound


def can_read(principal: Principal, lot: Lot, state: LotState) -> bool:
    if principal.role in (Role.ADMIN, Role.CERTIFIER):
        return True
    if principal.role is Role.MANAGER:
        return lot.cooperative_id is not None and lot.cooperative_id == principal.cooperative_id
    if principal.role is Role.EXPORTER:
        return principal.organization is not None and state.holder_organization == principal.organization
    return False


def can_act(principal: Principal, lot: Lot, state: LotState) -> bool:
    if principal.is_admin:
        return True
    if principal.role is Role.MANAGER:
        return can_read(principal, lot, state) and state.holder_organization is None
    return principal.role is Role.EXPORTER and can_read(principal, lot, state)


def lot_not_found(lot_id: str) -> NotFound:
    return NotFound(f"No lot {lot_id} that you can see.", code="lot_not_found")


def readable(principal: Principal, view: LotView | None, lot_id: str) -> LotView:
    if view is None or not can_read(principal, view.lot, view.state):
        raise lot_not_found(lot_id)
    return view


def actionable(principal: Principal, view: LotView | None, lot_id: str) -> LotView:
    view = readable(principal, view, lot_id)
    if not can_act(principal, view.lot, view.state):
        if principal.role in (Role.MANAGER, Role.EXPORTER):
            raise Forbidden(
                f"Lot {view.lot.code} was handed over to {view.state.holder_organization}; "
                "only its holder may act on it now.",
                code="not_holder",
            )
        raise Forbidden("Your role may read lots but not change them.", code="role_required")
    return view


def all_actionable(
    principal: Principal, views: Mapping[str, LotView], lot_ids: Sequence[str]
) -> list[LotView]:
    return [actionable(principal, views.get(lot_id), lot_id) for lot_id in lot_ids]
