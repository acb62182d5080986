"""The public provenance of a lot, built from the ledger, the registry and (when reachable) the claims."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pycountry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.cooperatives.client import CoarseMap
from services.lots import repository
from services.lots.codes import digital_link, normalise_code
from services.lots.models import LotEvent
from services.lots.public import repository as public_repository
from services.lots.public.cache import MAX_AGE_SECONDS, Entry, PublicCache
from services.lots.public.registry import Registry
from services.lots.public.scans import ScanCounter
from services.lots.public.schemas import (
    DayScans,
    JourneyStep,
    LotScans,
    PublicClaims,
    PublicCooperative,
    PublicDistrict,
    PublicLot,
    PublicOrigin,
    PublicQuality,
    Stage,
)
from services.lots.public.store import Blobs
from services.lots.repository import LotView
from services.lots.rules import to_kg
from services.lots.service.lineage import lineage_graph, provenance_read
from services.lots.service.reading import readable_lot
from shared.auth import Principal
from shared.errors import DomainError, NotFound

# How the lot was made: read over its whole lineage. What happened to the lot itself (handed over,
# shipped, shown at a fair) is read on the lot only: an ancestor's other bags went elsewhere.
MAKING = ("delivery", "transformation", "merge", "split", "quality", "storage")
OWN = ("handover", "shipment", "fair")
STAGE_ORDER: tuple[Stage, ...] = (
    "delivery",
    "fermentation",
    "drying",
    "hulling",
    "sorting",
    "merge",
    "split",
    "quality",
    "storage",
    "handover",
    "shipment",
    "fair",
)
STAGES: dict[str, Stage] = {stage: stage for stage in STAGE_ORDER}
ClaimsSource = Callable[[str], Awaitable[PublicClaims]]
ClaimsVersionSource = Callable[[], Awaitable[str | None]]


async def unavailable_claims(_lot_id: str) -> PublicClaims:
    return PublicClaims(available=False)


async def lot_by_code(session: AsyncSession, code: str) -> LotView:
    view = await repository.get_lot_by_code(session, normalise_code(code))
    if view is None:
        raise NotFound(f"No lot with code {code}.", code="lot_not_found")
    return view


async def version(session: AsyncSession, view: LotView) -> tuple[int, datetime]:
    """What the public answer depends on in the ledger: (events, last recorded) over the lineage."""
    count, last = await public_repository.lineage_version(session, view.lot.id)
    return count, last or view.lot.created_at


def _country(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country is not None else code


async def _journey(session: AsyncSession, lot_id: str) -> list[JourneyStep]:
    steps: dict[Stage, JourneyStep] = {}

    def add(stage: Stage, count: int, first: datetime, last: datetime, place: str | None = None) -> None:
        known = steps.get(stage)
        if known is None:
            steps[stage] = JourneyStep(stage=stage, count=count, first_at=first, last_at=last, place=place)
            return
        known.count += count
        known.first_at, known.last_at = min(known.first_at, first), max(known.last_at, last)
        if place and place not in (known.place or ""):
            known.place = f"{known.place}; {place}" if known.place else place

    for type_, process, count, first, last in await public_repository.journey_events(session, lot_id, MAKING):
        stage = STAGES.get(process if type_ == "transformation" else type_)
        if stage is not None:
            add(stage, int(count), first, last)
    own = await public_repository.standing_events(session, lot_id, OWN)
    fairs = await public_repository.fairs_by_id(session, [e.data["fair_id"] for e in own if e.type == "fair"])
    for event in own:
        add(STAGES[event.type], 1, event.event_time, event.event_time, _place(event, fairs))
    return [steps[s] for s in STAGE_ORDER if s in steps]


def _place(event: LotEvent, fairs: dict[str, Any]) -> str | None:
    data = event.data
    if event.type == "shipment":
        port = data.get("port_of_loading")
        destination = _country(str(data["destination_country"]))
        return f"{port} → {destination}" if port else destination
    if event.type == "fair":
        fair = fairs.get(data["fair_id"])
        return f"{fair.name}, {fair.city}" if fair is not None else data.get("fair_name")
    return None


def _quality(event: LotEvent | None) -> PublicQuality | None:
    if event is None:
        return None
    data = event.data
    cut = data.get("cut_test") or {}

    def number(value: Any) -> Decimal | None:
        return Decimal(str(value)) if value is not None else None

    return PublicQuality(
        measured_at=event.event_time,
        moisture_pct=number(data.get("moisture_pct")),
        cupping_score=number(data.get("cupping_score")),
        well_fermented_pct=number(cut.get("well_fermented_pct")),
        grade=data.get("grade"),
    )


async def _coarse_map(cooperatives: Registry, ubigeos: list[str]) -> CoarseMap | None:
    """Peru and the districts' places from the registry, to 0.1°; the page goes without when the
    registry cannot draw it (unreachable, or a ubigeo it does not know)."""
    if not ubigeos:
        return None
    try:
        return await cooperatives.get_map(ubigeos)
    except DomainError:
        return None


async def public_lot(
    session: AsyncSession,
    cooperatives: Registry,
    view: LotView,
    *,
    public_base_url: str,
    updated_at: datetime,
    claims: PublicClaims,
) -> PublicLot:
    provenance = provenance_read(await lineage_graph(session, view))
    registry = {
        c.cooperative_id: await cooperatives.get_cooperative(c.cooperative_id)
        for c in provenance.cooperatives
    }
    lot = view.lot
    districts = [PublicDistrict.model_validate(d.model_dump()) for d in provenance.districts]
    return PublicLot(
        code=lot.code,
        digital_link=digital_link(public_base_url, lot.code, lot.gtin),
        gtin=lot.gtin,
        product=lot.product,
        form=lot.form,
        quantity_kg=to_kg(view.state.quantity_g),
        cooperatives=[
            PublicCooperative(
                name=registry[c.cooperative_id].name,
                region=registry[c.cooperative_id].region,
                province=registry[c.cooperative_id].province,
                district=registry[c.cooperative_id].district,
                share_pct=c.share_pct,
            )
            for c in provenance.cooperatives
        ],
        origin=PublicOrigin(
            farmers=len(provenance.farmers),
            plots=len(provenance.plots),
            deliveries=provenance.deliveries,
            harvested_from=provenance.harvested_from,
            harvested_to=provenance.harvested_to,
            districts=districts,
            named_farmers=sorted(f.name for f in provenance.farmers if f.public_name_consent),
            map=await _coarse_map(cooperatives, [d.ubigeo for d in districts if d.ubigeo]),
        ),
        journey=await _journey(session, lot.id),
        quality=_quality(await public_repository.latest_lineage_quality(session, lot.id)),
        claims=claims,
        updated_at=updated_at,
    )


async def public_entry(
    sessions: async_sessionmaker[AsyncSession],
    cooperatives: Registry,
    cache: PublicCache,
    code: str,
    *,
    public_base_url: str,
    claims: ClaimsSource = unavailable_claims,
    claims_version: ClaimsVersionSource | None = None,
    check: bool = False,
    prefetched: Mapping[str, Prefetched] | None = None,
) -> Entry:
    """The lot's public answer, from the cache when neither the ledger nor the claims changed.

    An entry the change watch vouches for is returned as it is (cache.py); otherwise, or when
    ``check`` (a reload past caches), its version is read and the entry kept if it did not move.
    ``prefetched``: claims asked for many lots at once (pages built ahead), taken for a lot only if
    neither its ledger version nor the claims version moved since they were asked.
    """
    wanted = normalise_code(code)
    asked = cache.clock()
    entry = cache.get(wanted)
    if entry is not None and not check and cache.fresh(entry, asked):
        return entry
    async with cache.lock(wanted):
        entry = cache.get(wanted)
        started = cache.clock()
        if entry is not None and (entry.checked_at >= asked or (not check and cache.fresh(entry, started))):
            return entry  # checked by the request this one waited for
        # A short read of our own, closed before the claims are asked for: certification reads this
        # service's lineage to answer, and a burst of pages each holding a connection of the pool
        # while waiting for it would leave none for those reads (ARCHITECTURE: no transaction spans
        # a call to another service).
        async with sessions() as session:
            view = await lot_by_code(session, wanted)
            count, last = await version(session, view)
        # Claims cost a computation over every plot: asked again only when certification's version
        # moved (or without one, every time).
        # The watch reads it once per interval; asked here when the watch is not vouching, or on a
        # reload past caches (a manager checking a suspension shows it at once).
        known, mark = cache.claims_version(started) if not check else (False, None)
        if not known and claims_version is not None:
            mark = await claims_version()
        key = f"{_ledger(count, last)}|{mark}"
        # An entry built while the claims could not be had asks for them again, even if the
        # version did not move.
        fit = entry is not None and mark is not None and _still(cache, wanted, entry, key, started)
        if fit and entry is not None and entry.claims_available:
            entry.checked_at = started
            return entry
        # A few builds at a time: each holds a lineage in memory, and a burst of first visits
        # (a fair's opening) must not hold thirty of them at once.
        async with cache.builds:
            ahead = prefetched.get(view.lot.id) if prefetched is not None else None
            if ahead is not None and ahead.ledger == _ledger(count, last) and ahead.mark == mark:
                current = ahead.claims
            else:
                current = await claims(view.lot.id)
            if mark is None:
                key = f"{key}|{current.model_dump_json()}"
                if _still(cache, wanted, entry, key, started):
                    assert entry is not None
                    entry.checked_at = started
                    return entry
            async with sessions() as session:
                lot = await public_lot(
                    session,
                    cooperatives,
                    view,
                    public_base_url=public_base_url,
                    updated_at=last,
                    claims=current,
                )
        # The registry's facts on the page (cooperative names, places, the map) are part of the tag.
        registry_facts = lot.model_dump_json(include={"cooperatives": True, "origin": {"map"}})
        registry = hashlib.sha256(registry_facts.encode()).hexdigest()[:12]
        claims_digest = hashlib.sha256(current.model_dump_json().encode()).hexdigest()[:12]
        entry = Entry(
            facts=f"{claims_digest}|{registry}",
            checked_key=key,
            lot_id=view.lot.id,
            # The cache's key when it is the same text: one string per entry, not two.
            code=wanted if lot.code == wanted else lot.code,
            gtin=None if lot.gtin is None else sys.intern(lot.gtin),  # a product's lots share it
            updated_at=lot.updated_at,
            blobs=Blobs(json=lot.model_dump_json().encode()),
            checked_at=started,
            built_at=started,
            claims_available=current.available,
        )
        cache.put(wanted, entry)
        return entry


@dataclass(frozen=True, slots=True)
class Prefetched:
    """A lot's claims asked ahead, with what they were asked under: the lot's ledger version and the
    claims version, both read before the claims were computed."""

    ledger: str
    mark: str | None
    claims: PublicClaims


ClaimsOfMany = Callable[[Sequence[str]], Awaitable[Mapping[str, PublicClaims]]]


async def prefetch_claims(
    sessions: async_sessionmaker[AsyncSession],
    cache: PublicCache,
    codes: Sequence[str],
    *,
    many: ClaimsOfMany,
    claims_version: ClaimsVersionSource | None = None,
) -> dict[str, Prefetched]:
    """The claims of many lots in one request, for pages built ahead (keyed by lot id).

    Each lot's ledger version and the claims version are read first: a build takes these claims
    only if both are still what they were (``public_entry``), so a page is never stored under a
    version newer than its claims. Codes of no lot are left out; their build says so.
    """
    # A label printed again: its page is current, nothing to ask.
    stale = [code for code in map(normalise_code, codes) if not _current(cache, code)]
    ledgers: dict[str, str] = {}
    async with sessions() as session:
        for view in await repository.get_lots_by_ids_or_codes(session, (), stale):
            ledgers[view.lot.id] = _ledger(*await version(session, view))
    if not ledgers:
        return {}
    known, mark = cache.claims_version(cache.clock())
    if not known and claims_version is not None:
        mark = await claims_version()
    found = await many(list(ledgers))
    return {
        lot_id: Prefetched(ledger, mark, found[lot_id])
        for lot_id, ledger in ledgers.items()
        if lot_id in found
    }


def _current(cache: PublicCache, code: str) -> bool:
    cached = cache.get(code)
    return cached is not None and cache.fresh(cached)


def _ledger(count: int, last: datetime) -> str:
    return f"{count}|{last.isoformat()}"


def _still(cache: PublicCache, code: str, entry: Entry | None, key: str, now: float) -> bool:
    """The entry answers for this version, was built within the hour (registry facts), and is still
    the one cached: one let go while its check awaited the ledger gave its bytes back to the store
    (cache.Blobs.release)."""
    return (
        entry is not None
        and entry.checked_key == key
        and now - entry.built_at < MAX_AGE_SECONDS
        and cache.get(code) is entry
    )


async def resolve(session: AsyncSession, gtin: str, code: str) -> LotView:
    """The lot a Digital Link names: its code and the GTIN it was issued under must both match."""
    view = await repository.get_lot_by_code(session, normalise_code(code))
    if view is None or view.lot.gtin != gtin:
        raise NotFound(f"No lot {code} of GTIN {gtin}.", code="item_not_found")
    return view


async def lot_scans(
    session: AsyncSession, principal: Principal, lot_id: str, *, counter: ScanCounter
) -> LotScans:
    """Scans per day for those who may read the lot (its cooperative, its exporter); this process's
    counts not yet written are included."""
    await readable_lot(session, principal, lot_id)
    days = {row.day: row.scans for row in await public_repository.scans_of(session, lot_id)}
    for day, n in counter.pending_of(lot_id).items():
        days[day] = days.get(day, 0) + n
    return LotScans(
        lot_id=lot_id,
        total=sum(days.values()),
        days=[DayScans(day=day, scans=n) for day, n in sorted(days.items())],
    )
