"""Organic claims per standard: every delivery's plot in scope, on its harvest date, past conversion."""

from __future__ import annotations

import httpx

from tests.certification.calls import (
    Body,
    certify,
    change,
    claims,
    deliver_from,
    merge,
    new_farmer_plot,
    new_plot,
    organic,
)
from tests.factories import Origin


async def test_a_delivery_from_a_certified_plot_is_organic_for_that_standard_only(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    certificate = await certify(api, body, origin)
    lot = await deliver_from(api, origin, origin.plot)

    found = await claims(api, lot["id"])

    assert found["organic"]["EU_2018_848"]["status"] == "verified"
    assert found["organic"]["EU_2018_848"]["certificate_ids"] == [certificate["id"]]
    assert found["organic"]["USDA_NOP"]["status"] == "not_verified"
    assert origin.plot["id"] in found["organic"]["USDA_NOP"]["reason"]


async def test_one_delivery_from_an_uncovered_plot_makes_the_merged_lot_not_organic(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    uncovered = await new_plot(api, origin)
    await certify(api, body, origin)
    covered_lot = await deliver_from(api, origin, origin.plot, "900")
    uncovered_lot = await deliver_from(api, origin, uncovered, "1")
    merged = await merge(api, origin.headers, [covered_lot, uncovered_lot])

    claim = await organic(api, merged["id"])

    assert claim["status"] == "not_verified"
    assert uncovered["id"] in claim["reason"]
    assert origin.plot["id"] not in claim["reason"]
    assert (await organic(api, covered_lot["id"]))["status"] == "verified"


async def test_a_plot_still_in_conversion_is_not_organic(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    converting = await new_plot(api, origin, organic_since="2024-06-01")
    await certify(api, body, origin, scope={"plot_ids": [origin.plot["id"], converting["id"]]})

    converting_claim = await organic(api, (await deliver_from(api, origin, converting))["id"])
    converted_claim = await organic(api, (await deliver_from(api, origin, origin.plot))["id"])

    assert converting_claim["status"] == "not_verified"
    assert "conversion" in converting_claim["reason"] and converting["id"] in converting_claim["reason"]
    assert converted_claim["status"] == "verified"


async def test_conversion_ends_exactly_36_months_after_it_started(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    plot = await new_plot(api, origin, organic_since="2023-10-01")
    await certify(api, body, origin, scope={"plot_ids": [plot["id"]]})

    on_the_day = await deliver_from(api, origin, plot, harvested_on="2026-10-01")
    day_before = await deliver_from(api, origin, plot, harvested_on="2026-09-30")

    assert (await organic(api, on_the_day["id"]))["status"] == "verified"
    assert (await organic(api, day_before["id"]))["status"] == "not_verified"


async def test_a_certificate_that_expired_the_day_before_harvest_does_not_cover_it(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    await certify(api, body, origin, valid_to="2026-09-30")
    lot = await deliver_from(api, origin, origin.plot, harvested_on="2026-10-01")
    earlier = await deliver_from(api, origin, origin.plot, harvested_on="2026-09-30")

    claim = await organic(api, lot["id"])

    assert claim["status"] == "not_verified"
    assert "2026-10-01" in claim["reason"] and "2026-09-30" in claim["reason"]
    assert (await organic(api, earlier["id"]))["status"] == "verified"


async def test_a_farmer_in_scope_covers_each_of_their_plots(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    farmer_id, plot = await new_farmer_plot(api, origin)
    await certify(api, body, origin, scope={"farmer_ids": [farmer_id]})

    assert (await organic(api, (await deliver_from(api, origin, plot))["id"]))["status"] == "verified"
    assert (await organic(api, (await deliver_from(api, origin, origin.plot))["id"]))[
        "status"
    ] == "not_verified"


async def test_a_certificate_for_coffee_does_not_make_cacao_organic(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    await certify(api, body, origin, products=["coffee"])
    lot = await deliver_from(api, origin, origin.plot)

    assert (await organic(api, lot["id"]))["status"] == "not_verified"


async def test_suspension_fails_every_affected_lot_and_reinstatement_restores_them(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    other = await new_plot(api, origin)
    certificate = await certify(api, body, origin, scope={"plot_ids": [origin.plot["id"], other["id"]]})
    first = await deliver_from(api, origin, origin.plot, "50")
    second = await deliver_from(api, origin, other, "70")
    merged = await merge(api, origin.headers, [first, second])
    unrelated = await deliver_from(api, origin, await new_plot(api, origin))
    lots = [first["id"], second["id"], merged["id"]]

    affected = await api.get(
        f"/api/v1/certificates/{certificate['id']}/affected-lots", headers=body.certifier
    )
    assert affected.status_code == 200, affected.text
    assert sorted(item["lot_id"] for item in affected.json()["items"]) == sorted(lots)
    assert unrelated["id"] not in {item["lot_id"] for item in affected.json()["items"]}

    assert (await change(api, body, certificate["id"], "suspend")).status_code == 200
    for lot_id in lots:
        claim = await organic(api, lot_id)
        assert claim["status"] == "failed"
        assert certificate["number"] in claim["reason"] and "suspended" in claim["reason"]

    reinstated = await change(api, body, certificate["id"], "reinstate")
    assert reinstated.status_code == 200
    assert [event["action"] for event in reinstated.json()["history"]] == ["issue", "suspend", "reinstate"]
    for lot_id in lots:
        assert (await organic(api, lot_id))["status"] == "verified"


async def test_a_withdrawn_certificate_cannot_be_reinstated(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    certificate = await certify(api, body, origin)
    lot = await deliver_from(api, origin, origin.plot)

    assert (await change(api, body, certificate["id"], "withdraw")).status_code == 200
    refused = await change(api, body, certificate["id"], "reinstate")

    assert refused.status_code == 409
    assert refused.json()["code"] == "status_transition_invalid"
    assert (await organic(api, lot["id"]))["status"] == "failed"
    read = await api.get(f"/api/v1/certificates/{certificate['id']}", headers=body.certifier)
    assert read.json()["status"] == "withdrawn"
    assert [e["status"] for e in read.json()["history"]] == ["active", "withdrawn"]
