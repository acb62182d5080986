"""Coca-free: a passing verification within the window before harvest, and nothing failing."""

from __future__ import annotations

import httpx

from tests.certification.calls import Body, claims, deliver_from, new_plot, verify
from tests.factories import Origin


async def test_a_passing_verification_within_12_months_before_harvest_verifies_with_its_evidence(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    verification = await verify(api, body, origin.plot["id"], on="2025-10-01")
    lot = await deliver_from(api, origin, origin.plot, harvested_on="2026-10-01")

    claim = (await claims(api, lot["id"]))["coca_free"]

    assert claim["status"] == "verified"
    assert claim["evidence"] == [
        {
            "plot_id": origin.plot["id"],
            "verification_id": verification["id"],
            "verified_on": "2025-10-01",
            "method": "field_visit",
        }
    ]


async def test_a_verification_older_than_the_window_does_not_count(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    await verify(api, body, origin.plot["id"], on="2025-09-30")
    lot = await deliver_from(api, origin, origin.plot, harvested_on="2026-10-01")

    claim = (await claims(api, lot["id"]))["coca_free"]

    assert claim["status"] == "not_verified"
    assert "12 months" in claim["reason"] and origin.plot["id"] in claim["reason"]


async def test_a_failing_verification_fails_the_lot_even_with_a_passing_one(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    other = await new_plot(api, origin)
    await verify(api, body, origin.plot["id"], on="2026-03-01")
    await verify(api, body, other["id"], on="2026-03-01")
    await verify(api, body, other["id"], result="fail", on="2026-06-01")
    good = await deliver_from(api, origin, origin.plot)
    bad = await deliver_from(api, origin, other)

    assert (await claims(api, good["id"]))["coca_free"]["status"] == "verified"
    claim = (await claims(api, bad["id"]))["coca_free"]
    assert claim["status"] == "failed"
    assert other["id"] in claim["reason"] and "2026-06-01" in claim["reason"]


async def test_a_verification_after_the_harvest_does_not_vouch_for_it(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    await verify(api, body, origin.plot["id"], on="2026-10-02")
    lot = await deliver_from(api, origin, origin.plot, harvested_on="2026-10-01")

    assert (await claims(api, lot["id"]))["coca_free"]["status"] == "not_verified"
