"""Attaching a certificate to a lot: only when it covers every contributing plot on its harvest date."""

from __future__ import annotations

import httpx

from tests.certification.calls import CERTIFICATES, Body, HeadersFor, certify, deliver_from, merge, new_plot
from tests.factories import Origin

EXPORTER = "Exportadora Amazónica SAC"


async def hand_over(api: httpx.AsyncClient, origin: Origin, lot_id: str) -> None:
    body = {"type": "handover", "to_organization": EXPORTER}
    response = await api.post(f"/api/v1/lots/{lot_id}/events", json=body, headers=origin.headers)
    assert response.status_code == 201, response.text


async def attach(
    api: httpx.AsyncClient, headers: dict[str, str], certificate_id: str, lot_id: str
) -> httpx.Response:
    return await api.post(
        f"{CERTIFICATES}/{certificate_id}/attachments", json={"lot_id": lot_id}, headers=headers
    )


async def test_an_exporter_attaches_a_certificate_covering_every_plot(
    api: httpx.AsyncClient, origin: Origin, body: Body, headers_for: HeadersFor
) -> None:
    other = await new_plot(api, origin)
    certificate = await certify(api, body, origin, scope={"plot_ids": [origin.plot["id"], other["id"]]})
    lots = [await deliver_from(api, origin, plot) for plot in (origin.plot, other)]
    merged = await merge(api, origin.headers, lots)
    await hand_over(api, origin, merged["id"])
    exporter = headers_for("exporter", organization=EXPORTER)

    response = await attach(api, exporter, certificate["id"], merged["id"])

    assert response.status_code == 201, response.text
    assert (response.json()["certificate_id"], response.json()["lot_id"]) == (certificate["id"], merged["id"])
    again = await attach(api, exporter, certificate["id"], merged["id"])
    assert (again.status_code, again.json()["code"]) == (409, "already_attached")


async def test_an_attachment_is_refused_listing_the_uncovered_plots(
    api: httpx.AsyncClient, origin: Origin, body: Body, headers_for: HeadersFor
) -> None:
    uncovered = await new_plot(api, origin)
    late = await new_plot(api, origin)
    certificate = await certify(
        api, body, origin, valid_to="2026-09-30", scope={"plot_ids": [origin.plot["id"], late["id"]]}
    )
    lots = [
        await deliver_from(api, origin, origin.plot, harvested_on="2026-09-01"),
        await deliver_from(api, origin, uncovered, harvested_on="2026-09-01"),
        await deliver_from(api, origin, late, harvested_on="2026-10-01"),
    ]
    merged = await merge(api, origin.headers, lots)
    await hand_over(api, origin, merged["id"])

    response = await attach(
        api, headers_for("exporter", organization=EXPORTER), certificate["id"], merged["id"]
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "plots_not_covered"
    assert problem["uncovered_plot_ids"] == sorted([uncovered["id"], late["id"]])
    assert uncovered["id"] in problem["detail"] and late["id"] in problem["detail"]
    assert origin.plot["id"] not in problem["detail"]


async def test_an_exporter_cannot_attach_to_a_lot_it_does_not_hold(
    api: httpx.AsyncClient, origin: Origin, body: Body, headers_for: HeadersFor
) -> None:
    certificate = await certify(api, body, origin)
    lot = await deliver_from(api, origin, origin.plot)

    response = await attach(
        api, headers_for("exporter", organization="Otra SAC"), certificate["id"], lot["id"]
    )

    assert response.status_code == 404


async def test_a_certifier_does_not_attach_certificates(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    certificate = await certify(api, body, origin)
    lot = await deliver_from(api, origin, origin.plot)

    response = await attach(api, body.certifier, certificate["id"], lot["id"])

    assert (response.status_code, response.json()["code"]) == (403, "role_required")


async def test_a_retried_attachment_gets_the_first_answer(
    api: httpx.AsyncClient, origin: Origin, body: Body, headers_for: HeadersFor
) -> None:
    certificate = await certify(api, body, origin)
    lot = await deliver_from(api, origin, origin.plot)
    await hand_over(api, origin, lot["id"])
    exporter = headers_for("exporter", organization=EXPORTER, user_id="usr_exp_1")
    key = {"Idempotency-Key": "attach-7f3a"}

    first = await attach(api, {**exporter, **key}, certificate["id"], lot["id"])
    replay = await attach(api, {**exporter, **key}, certificate["id"], lot["id"])

    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()
