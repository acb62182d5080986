"""Who may do what: admins register bodies and load layers, only the issuing body's certifiers change a
certificate, certifiers record verifications; problems are RFC 9457 documents with stable codes."""

from __future__ import annotations

import httpx

from tests.certification.calls import (
    CERTIFICATES,
    Body,
    HeadersFor,
    certificate_body,
    certify,
    change,
    create_body,
)
from tests.factories import Origin, create_origin


async def test_only_admins_register_certifying_bodies(
    api: httpx.AsyncClient, body: Body, origin: Origin
) -> None:
    payload = {"name": "Bio Latina", "code": "PE-BIO-999", "standards": ["JAS"]}
    for headers in (body.certifier, origin.headers):
        response = await api.post("/api/v1/certifying-bodies", json=payload, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "role_required")


async def test_a_body_code_is_registered_once(api: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    payload = {"name": "Bio Latina", "code": "PE-BIO-777", "standards": ["JAS"]}
    assert (
        await api.post("/api/v1/certifying-bodies", json=payload, headers=admin_headers)
    ).status_code == 201
    again = await api.post("/api/v1/certifying-bodies", json=payload, headers=admin_headers)
    assert (again.status_code, again.json()["code"]) == (409, "body_code_taken")


async def test_a_certifier_of_another_body_can_neither_issue_nor_suspend(
    api: httpx.AsyncClient,
    body: Body,
    origin: Origin,
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
) -> None:
    rival = await create_body(api, admin_headers, headers_for)
    certificate = await certify(api, body, origin)

    issued = await api.post(CERTIFICATES, json=certificate_body(body, origin), headers=rival.certifier)
    suspended = await change(api, rival, certificate["id"], "suspend")
    affected = await api.get(f"{CERTIFICATES}/{certificate['id']}/affected-lots", headers=rival.certifier)

    for response in (issued, suspended, affected):
        assert (response.status_code, response.json()["code"]) == (403, "not_issuing_body")
    read = await api.get(f"{CERTIFICATES}/{certificate['id']}", headers=rival.certifier)
    assert read.json()["status"] == "active" and len(read.json()["history"]) == 1


async def test_managers_and_admins_do_not_change_certificates(
    api: httpx.AsyncClient, body: Body, origin: Origin, admin_headers: dict[str, str]
) -> None:
    certificate = await certify(api, body, origin)
    for headers in (admin_headers, origin.headers):
        response = await api.post(
            f"{CERTIFICATES}/{certificate['id']}/suspend", json={"reason": "audit"}, headers=headers
        )
        assert (response.status_code, response.json()["code"]) == (403, "not_issuing_body")


async def test_a_body_issues_only_the_standards_it_is_accredited_for(
    api: httpx.AsyncClient, body: Body, origin: Origin
) -> None:
    response = await api.post(
        CERTIFICATES, json=certificate_body(body, origin, standard="JAS"), headers=body.certifier
    )

    assert response.status_code == 422
    assert response.json()["code"] == "standard_not_accredited"


async def test_a_certificate_number_is_issued_once_per_body(
    api: httpx.AsyncClient, body: Body, origin: Origin
) -> None:
    await certify(api, body, origin, number="CU-2026-001")

    again = await api.post(
        CERTIFICATES, json=certificate_body(body, origin, number="CU-2026-001"), headers=body.certifier
    )

    assert (again.status_code, again.json()["code"]) == (409, "certificate_number_taken")


async def test_the_scope_holds_only_plots_of_the_certified_cooperative(
    api: httpx.AsyncClient,
    body: Body,
    origin: Origin,
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
) -> None:
    elsewhere = await create_origin(api, admin_headers, headers_for)
    scope = {"plot_ids": [origin.plot["id"], elsewhere.plot["id"], "plot_unknown"]}

    response = await api.post(
        CERTIFICATES, json=certificate_body(body, origin, scope=scope), headers=body.certifier
    )

    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("scope.plot_ids.1", "plot_not_in_cooperative"),
        ("scope.plot_ids.2", "plot_not_in_cooperative"),
    }


async def test_validity_must_be_in_order(api: httpx.AsyncClient, body: Body, origin: Origin) -> None:
    payload = certificate_body(body, origin, valid_from="2026-12-31", valid_to="2026-01-01")

    response = await api.post(CERTIFICATES, json=payload, headers=body.certifier)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_certifiers_record_verifications_of_known_plots(
    api: httpx.AsyncClient, body: Body, origin: Origin
) -> None:
    payload = {
        "plot_id": origin.plot["id"],
        "kind": "coca_free",
        "result": "pass",
        "verified_on": "2026-09-01",
        "method": "satellite",
        "verifier": "DEVIDA",
    }
    by_manager = await api.post("/api/v1/verifications", json=payload, headers=origin.headers)
    unknown = await api.post(
        "/api/v1/verifications", json={**payload, "plot_id": "plot_nope"}, headers=body.certifier
    )

    assert (by_manager.status_code, by_manager.json()["code"]) == (403, "role_required")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "plot_not_found")


async def test_claims_of_an_unknown_lot_are_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/claims/lots/lot_0000")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_certificates_are_read_by_signed_in_users_only(
    api: httpx.AsyncClient, body: Body, origin: Origin
) -> None:
    certificate = await certify(api, body, origin)

    assert (await api.get(f"{CERTIFICATES}/{certificate['id']}")).status_code == 401
    listed = await api.get(
        CERTIFICATES, params={"cooperative_id": origin.cooperative_id}, headers=origin.headers
    )
    assert [c["id"] for c in listed.json()["items"]] == [certificate["id"]]
