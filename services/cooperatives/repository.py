"""Every SQL statement of the registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, Text, cast, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives.models import Cooperative, Farmer, Plot, User
from services.cooperatives.reference import fold
from shared.pagination import PageParams, keyset


async def bulk_insert(session: AsyncSession, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT per batch (SQLAlchemy's insertmanyvalues), not one ORM object per row."""
    if rows:
        await session.execute(insert(model.__table__), list(rows))


# users


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.username == username))
    return user


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def any_admin(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))) != 0


async def list_users(session: AsyncSession, page: PageParams) -> Sequence[User]:
    stmt = keyset(select(User), [User.created_at, User.id], page)
    return (await session.scalars(stmt)).all()


# cooperatives


async def get_cooperative(session: AsyncSession, cooperative_id: str) -> Cooperative | None:
    return await session.get(Cooperative, cooperative_id)


async def get_cooperative_for_update(session: AsyncSession, cooperative_id: str) -> Cooperative | None:
    coop: Cooperative | None = await session.scalar(
        select(Cooperative).where(Cooperative.id == cooperative_id).with_for_update()
    )
    return coop


async def ruc_exists(session: AsyncSession, ruc: str) -> bool:
    return (await session.scalar(select(Cooperative.id).where(Cooperative.ruc == ruc))) is not None


async def existing_rucs(session: AsyncSession, rucs: Iterable[str]) -> set[str]:
    wanted = list(set(rucs))
    if not wanted:
        return set()
    return set((await session.scalars(select(Cooperative.ruc).where(Cooperative.ruc.in_(wanted)))).all())


async def list_cooperatives(
    session: AsyncSession,
    page: PageParams,
    *,
    product: str | None,
    region_code: str | None,
    query: str | None,
) -> Sequence[Cooperative]:
    stmt: Select[Any] = select(Cooperative)
    if product:
        # JSON containment differs between engines; the list is tiny, so match its text form.
        stmt = stmt.where(cast(Cooperative.products, Text).contains(f'"{product}"'))
    if region_code:
        stmt = stmt.where(Cooperative.ubigeo.startswith(region_code))
    if query:
        stmt = stmt.where(Cooperative.search_text.contains(query, autoescape=True))
    return (await session.scalars(keyset(stmt, [Cooperative.created_at, Cooperative.id], page))).all()


# farmers


async def get_farmer(session: AsyncSession, farmer_id: str) -> Farmer | None:
    return await session.get(Farmer, farmer_id)


async def dni_exists(session: AsyncSession, cooperative_id: str, dni: str) -> bool:
    found = await session.scalar(
        select(Farmer.id).where(Farmer.cooperative_id == cooperative_id, Farmer.dni == dni)
    )
    return found is not None


async def farmers_by_dni(
    session: AsyncSession, cooperative_id: str, dnis: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """DNI → (farmer id, name) of the cooperative's members among ``dnis``."""
    wanted = list(set(dnis))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Farmer.dni, Farmer.id, Farmer.name).where(
            Farmer.cooperative_id == cooperative_id, Farmer.dni.in_(wanted)
        )
    )
    return {dni: (farmer_id, name) for dni, farmer_id, name in rows if dni is not None}


async def farmers_without_dni_by_name(
    session: AsyncSession, cooperative_id: str, names: Iterable[str]
) -> dict[str, list[str]]:
    """Folded name → ids of the cooperative's members without a DNI who bear that name."""
    wanted = list({fold(n) for n in names})
    if not wanted:
        return {}
    rows = await session.execute(
        select(Farmer.id, Farmer.name_key).where(
            Farmer.cooperative_id == cooperative_id, Farmer.dni.is_(None), Farmer.name_key.in_(wanted)
        )
    )
    found: dict[str, list[str]] = {}
    for farmer_id, name_key in rows:
        found.setdefault(name_key, []).append(farmer_id)
    return found


async def plot_names_of(session: AsyncSession, farmer_ids: Iterable[str]) -> set[tuple[str, str]]:
    wanted = list(set(farmer_ids))
    if not wanted:
        return set()
    rows = await session.execute(select(Plot.farmer_id, Plot.name).where(Plot.farmer_id.in_(wanted)))
    return {(farmer_id, name) for farmer_id, name in rows}


async def list_farmers(
    session: AsyncSession, cooperative_id: str, page: PageParams, *, query: str | None, dni: str | None
) -> Sequence[Farmer]:
    stmt: Select[Any] = select(Farmer).where(Farmer.cooperative_id == cooperative_id)
    if query:
        stmt = stmt.where(Farmer.name_key.contains(fold(query), autoescape=True))
    if dni:
        stmt = stmt.where(Farmer.dni == dni)
    return (await session.scalars(keyset(stmt, [Farmer.created_at, Farmer.id], page))).all()


# plots


async def get_plot(session: AsyncSession, plot_id: str) -> Plot | None:
    return await session.get(Plot, plot_id)


async def list_plots(
    session: AsyncSession,
    page: PageParams,
    *,
    cooperative_id: str | None,
    farmer_id: str | None,
    ids: Sequence[str] | None,
) -> Sequence[Plot]:
    stmt: Select[Any] = select(Plot)
    if cooperative_id:
        stmt = stmt.where(Plot.cooperative_id == cooperative_id)
    if farmer_id:
        stmt = stmt.where(Plot.farmer_id == farmer_id)
    if ids is not None:
        stmt = stmt.where(Plot.id.in_(list(ids)))
    return (await session.scalars(keyset(stmt, [Plot.created_at, Plot.id], page))).all()


LOOKUP_CHUNK = 1000


async def plots_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[Plot]:
    """Plots by id, in chunks: some drivers cap the parameters of one statement."""
    unique = list(dict.fromkeys(ids))
    found: list[Plot] = []
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        found.extend((await session.scalars(select(Plot).where(Plot.id.in_(chunk)))).all())
    return found


async def get_plot_origin(session: AsyncSession, plot_id: str) -> tuple[Plot, Farmer, Cooperative] | None:
    """The plot, its farmer and its cooperative in one statement."""
    row = (
        await session.execute(
            select(Plot, Farmer, Cooperative)
            .join(Farmer, Farmer.id == Plot.farmer_id)
            .join(Cooperative, Cooperative.id == Plot.cooperative_id)
            .where(Plot.id == plot_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None
