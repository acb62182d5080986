"""The claims a buyer sees come from the certification service, and a suspension changes the page."""

from __future__ import annotations

import httpx

from tests.certification.calls import HeadersFor, certify, change, create_body, new_plot, verify
from tests.factories import create_origin, deliver


async def test_page_shows_the_certificate_and_a_suspension_changes_it_at_once(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    origin = await create_origin(api, admin_headers, headers_for)
    origin.plot = await new_plot(api, origin)
    body = await create_body(api, admin_headers, headers_for)
    certificate = await certify(api, body, origin, number="CU-PE-2026-0042")
    await verify(api, body, origin.plot["id"], on="2026-09-01")
    lot = await deliver(api, origin, "100")

    page = await api.get(f"/l/{lot['code']}")
    assert page.status_code == 200
    html = page.text
    assert "Orgánico UE 2018/848: Verificado" in html
    assert "N° CU-PE-2026-0042" in html and "Control Union" in html
    assert "Libre de coca: Verificado" in html and "visita de campo" in html
    english = (await api.get(f"/l/{lot['code']}?lang=en")).text
    assert "Organic EU 2018/848: Verified" in english and "field visit" in english
    data = (await api.get(f"/api/v1/public/lots/{lot['code']}")).json()
    eu = data["claims"]["organic"]["EU_2018_848"]
    assert eu["status"] == "verified"
    assert eu["certificates"][0]["number"] == "CU-PE-2026-0042"
    assert data["claims"]["coca_free"]["verifications"]["methods"] == ["field_visit"]
    assert origin.plot["id"] not in page.text and origin.plot["id"] not in str(data)

    suspended = await change(api, body, certificate["id"], "suspend")
    assert suspended.status_code == 200, suspended.text
    after = await api.get(f"/l/{lot['code']}", headers={"If-None-Match": page.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != page.headers["etag"]
    assert "Orgánico UE 2018/848: No cumple" in after.text
    assert "suspendido o retirado" in after.text

    reinstated = await change(api, body, certificate["id"], "reinstate")
    assert reinstated.status_code == 200, reinstated.text
    again = await api.get(f"/l/{lot['code']}")
    assert "Orgánico UE 2018/848: Verificado" in again.text
