"""The change watch: one poll finds which cached pages may have changed, whatever the cache holds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from deploy.allinone import AllInOne
from services.lots.public.cache import ERA_SECONDS, Entry, PublicCache
from services.lots.public.schemas import PublicClaims
from services.lots.public.store import Blobs, PageStore
from services.lots.public.watch import ChangeWatch
from shared.db import utcnow
from tests.factories import Origin, deliver
from tests.lots.calls import cached_entry, correct, event, page_entry, split


def watch_of(platform: AllInOne, cache: PublicCache, **options: Any) -> ChangeWatch:
    return ChangeWatch(cache, platform.apps["lots"].state.database.read_sessions, every=5.0, **options)


async def test_a_poll_marks_the_lot_of_a_new_event_and_every_lot_made_from_it(
    api: httpx.AsyncClient, platform: AllInOne, origin: Origin, lot: dict[str, Any]
) -> None:
    other = await deliver(api, origin, "40")
    response = await split(api, origin.headers, lot["id"], "30")
    assert response.status_code == 201, response.text
    bag = response.json()["lots"][0]
    watch = watch_of(platform, PublicCache())
    first = await watch.poll()  # what was recorded in the last minute, this test's lots included
    assert {lot["id"], bag["id"], other["id"]} <= first
    assert await watch.poll() == set()  # recognised by id: not found twice

    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")
    assert await watch.poll() == {lot["id"], bag["id"]}  # the bag was made from it; not the other
    await event(api, origin.headers, bag["id"], type="quality", grade="Grado 2")
    assert await watch.poll() == {bag["id"]}  # a bag's event is not its parent's history


async def test_an_event_committed_after_a_poll_began_is_found_by_the_next(
    api: httpx.AsyncClient, platform: AllInOne, origin: Origin, lot: dict[str, Any]
) -> None:
    # The poll runs 30 s ahead of the clock events are recorded with: as if the event's request
    # had begun (and taken its recorded_at) 30 s before its transaction committed, after the poll.
    wall = [utcnow() + timedelta(seconds=30)]

    def clock() -> datetime:
        return wall[0]

    watch = watch_of(platform, PublicCache(), wall=clock)
    await watch.poll()
    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")
    wall[0] += timedelta(seconds=5)
    assert lot["id"] in await watch.poll()


async def test_a_marked_page_is_checked_and_an_unmarked_one_served_as_it_is(
    platform: AllInOne, api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    now = [100.0]
    cache = PublicCache(clock=lambda: now[0])
    mark = ["v1"]

    async def version() -> str | None:
        return mark[0]

    watch = watch_of(platform, cache, claims_version=version)
    other = await deliver(api, origin, "40")
    await watch.poll()
    now[0] += 1

    async def entry(code: str) -> Entry:
        return await cached_entry(platform, cache, code, claims_version=version)

    mine, theirs = await entry(lot["code"]), await entry(other["code"])
    assert cache.fresh(mine) and cache.fresh(theirs)
    now[0] += 1
    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")
    await watch.poll()
    assert not cache.fresh(mine) and cache.fresh(theirs)
    now[0] += 1
    assert (await entry(lot["code"])).lot.quality is not None
    assert await entry(other["code"]) is theirs

    mark[0] = "v2"  # a certificate suspended, a verification recorded: every page asks its claims
    now[0] += 1
    await watch.poll()
    assert not cache.fresh(theirs)


def test_a_page_whose_check_began_before_a_mark_is_not_fresh_even_if_stored_after() -> None:
    now = [10.0]
    cache = PublicCache(clock=lambda: now[0])
    cache.trust_until(100.0)
    built = Entry(
        facts="v",
        checked_key="v",
        lot_id="lot_1",
        code="ACE34XY67",
        gtin=None,
        updated_at=utcnow(),
        blobs=Blobs(json=b"{}"),
        checked_at=10.0,  # its check began at 10
        built_at=10.0,
    )
    cache.mark_lots(["lot_1"], at=11.0)  # the watch found a change at 11, while it was being built
    cache.put("ACE34XY67", built)
    now[0] = 12.0
    assert not cache.fresh(built)
    cache.mark_lots(["lot_1"], at=9.0)  # a finding older than the last does not undo it
    assert not cache.fresh(built)


def cached(code: str, page: bytes) -> Entry:
    return page_entry(code, page)


def test_the_cache_holds_at_most_its_bytes_least_recently_asked_out_first() -> None:
    page = bytes(range(256)) * 20  # 5 KB that gzip cannot shrink much
    one = cached("A", page).weight()
    now = [0.0]
    cache = PublicCache(max_bytes=3 * one, clock=lambda: now[0])
    for code in "ABC":
        cache.put(code, cached(code, page))
    assert cache.bytes == 3 * one
    now[0] += ERA_SECONDS
    assert cache.get("A") is not None  # asked: now the most recent
    cache.put("D", cached("D", page))
    assert cache.get("B") is None and all(cache.get(code) for code in "ACD")
    assert cache.bytes <= 3 * one

    grown = cache.get("C")
    assert grown is not None
    grown.add_page("en", page)  # a second language rendered: the entry weighs more
    cache.grew(grown)
    assert cache.bytes <= 3 * one and cache.get("C") is grown and len(cache) == 2


def test_an_entry_asked_again_within_its_era_is_not_moved_again() -> None:
    """The order is least recently asked to within ERA_SECONDS: a burst does not relink the list
    at every request."""
    page = bytes(range(256)) * 20
    one = cached("A", page).weight()
    now = [0.0]
    cache = PublicCache(max_bytes=3 * one, clock=lambda: now[0])
    for code in "ABC":
        cache.put(code, cached(code, page))
    assert cache.get("A") is not None  # stored this era: stays the oldest
    cache.put("D", cached("D", page))
    assert cache.get("A") is None and all(cache.get(code) for code in "BCD")
    now[0] += ERA_SECONDS - 1
    assert cache.get("B") is not None  # still the era D was stored in
    cache.put("E", cached("E", page))
    assert cache.get("B") is None
    now[0] += 1  # a new era: C asked is the most recent, D the oldest
    assert cache.get("C") is not None
    cache.put("F", cached("F", page))
    assert cache.get("D") is None and all(cache.get(code) for code in "CEF")


async def test_a_corrected_transformation_marks_its_input_as_well_as_its_output(
    api: httpx.AsyncClient, platform: AllInOne, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await api.post(
        f"/api/v1/lots/{lot['id']}/transform",
        json={"process": "drying", "output_form": "dry", "output_quantity_kg": "40"},
        headers=origin.headers,
    )
    assert response.status_code == 201, response.text
    dry = response.json()
    watch = watch_of(platform, PublicCache())
    await watch.poll()
    voided = await correct(api, origin.headers, dry["id"], dry["created_event_id"], reason="did_not_occur")
    assert voided.status_code == 201, voided.text
    # The correction's subject is the dried lot; the lot it came from lost a drying stage too.
    assert {lot["id"], dry["id"]} <= await watch.poll()


async def test_a_change_found_by_a_poll_marks_pages_checked_while_the_poll_was_reading(
    api: httpx.AsyncClient, platform: AllInOne, origin: Origin, lot: dict[str, Any]
) -> None:
    # A first poll (which also marks the claims once), then one that begins at 200 and whose read
    # returns at 202.
    ticks = iter([100.0, 101.0, 101.5, 200.0, 202.0])
    cache = PublicCache(clock=lambda: next(ticks))
    watch = watch_of(platform, cache)
    await watch.poll()
    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")
    # A check that began at 201, after the poll began, may have read the ledger before the event.
    checked = cached(lot["code"], b"<p>old</p>")
    checked.lot_id, checked.checked_at, checked.built_at = lot["id"], 201.0, 201.0
    assert lot["id"] in await watch.poll()
    assert not cache.fresh(checked, now=203.0)


async def test_a_page_built_without_its_claims_asks_for_them_again(
    platform: AllInOne, lot: dict[str, Any]
) -> None:
    now = [100.0]
    cache = PublicCache(clock=lambda: now[0])
    cache.trust_until(1000.0)
    cache.retry_seconds = 5.0
    answers = [PublicClaims(available=False), PublicClaims(available=True)]

    async def claims(_lot_id: str) -> PublicClaims:
        return answers.pop(0)

    async def version() -> str | None:
        return "v1"  # certification answers its version; the claims call itself failed

    async def entry() -> Entry:
        return await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version)

    without = await entry()
    assert not without.claims_available and without.lot.claims.available is False
    now[0] += 1
    assert await entry() is without  # within the watch's interval: served as it is
    now[0] += 5
    assert not cache.fresh(without)
    again = await entry()
    assert again is not without and again.claims_available and not answers


async def test_a_build_takes_the_claims_version_the_watch_read_and_a_change_is_still_caught(
    platform: AllInOne, api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    now = [100.0]
    cache = PublicCache(clock=lambda: now[0])
    mark = ["v1"]
    asked: list[str] = []
    told = [PublicClaims(available=True)]

    async def version() -> str | None:
        asked.append(mark[0])
        return mark[0]

    async def claims(_lot_id: str) -> PublicClaims:
        return told[0]

    watch = watch_of(platform, cache, claims_version=version)
    await watch.poll()
    assert asked == ["v1"]
    now[0] += 1

    async def entry() -> Entry:
        return await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version)

    first = await entry()
    assert asked == ["v1"]  # the build asked no version of its own: the watch's was trusted
    assert first.checked_key.split("|")[2] == "v1"

    # The claims move right after that poll; a page built before the next poll carries the old
    # version with the new claims, and the next poll makes it ask again.
    mark[0] = "v2"
    told[0] = PublicClaims(available=False)  # what v2 says
    now[0] += 1
    cache.mark_lots([lot["id"]], now[0])  # its check now
    checked = await entry()
    assert asked == ["v1"] and checked.checked_key.split("|")[2] == "v1"
    assert checked.lot.claims.available  # still the claims it was built with
    now[0] += 1
    await watch.poll()
    assert asked == ["v1", "v2"] and not cache.fresh(checked)
    now[0] += 1
    again = await entry()
    assert again is not checked and again.checked_key.split("|")[2] == "v2"
    assert not again.lot.claims.available  # the next poll brought v2's claims
    assert asked == ["v1", "v2"]

    # A reload past caches (a manager checking a suspension) asks certification itself.
    now[0] += 1
    await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version, check=True)
    assert asked == ["v1", "v2", "v2"]

    await watch.stop()  # not trusted any more: a build asks certification itself
    cache.mark_lots([lot["id"]], now[0])
    now[0] += 1
    await entry()
    assert asked == ["v1", "v2", "v2", "v2"]


async def test_a_page_let_go_while_its_check_awaited_the_ledger_is_built_again_not_served_empty(
    platform: AllInOne, lot: dict[str, Any]
) -> None:
    cache = PublicCache(max_bytes=1, store=PageStore(max_bytes=1 << 20))  # room for one entry
    evicting = [False]

    async def version() -> str | None:
        if evicting[0]:  # another lot's page is stored meanwhile: this one goes
            cache.put("OTHER", page_entry("OTHER", b"<html>other</html>"))
        return "v1"

    async def claims(_lot_id: str) -> PublicClaims:
        return PublicClaims(available=True)

    first = await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version)
    evicting[0] = True  # no watch: the next request checks, and its version did not move
    again = await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version)
    assert first.blobs.store is None and first.blobs.get("json") is None  # let go, bytes given back
    assert again is not first and again.lot.code == lot["code"]
    assert cache.get(lot["code"]) is again
