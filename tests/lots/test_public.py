"""The public side: provenance JSON and page, the Digital Link resolver, caching and privacy."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from stdnum import ean

from deploy.allinone import AllInOne
from services.cooperatives.client import CooperativesClient
from services.lots.public.cache import Entry, PublicCache
from services.lots.public.claims import CertificationClaims
from services.lots.public.schemas import PublicClaims
from services.lots.public.watch import ChangeWatch
from shared.errors import ServiceUnavailable
from shared.settings import ServiceSettings, Settings
from tests.factories import Origin, create_farmer, create_origin, create_plot, deliver
from tests.lots.calls import HeadersFor, cached_entry, event, split

GS1_PREFIX = "7751234"
GTIN13 = "775123400001"[:12] + ean.calc_check_digit("775123400001"[:12])
GTIN14 = "0" + GTIN13
BAD_GTIN14 = GTIN14[:-1] + str((int(GTIN14[-1]) + 1) % 10)
# A DNI is 8 digits. All of Peru lies south and west of 0°, 0°: its coordinates are negative, and one
# finer than 0.1° has two or more decimals (shares and kilograms are never negative).
DNI = re.compile(r"(?<![\w.])\d{8}(?![\w.])")
FINE_COORDINATE = re.compile(r"(?<![\d:])-\d{1,3}\.\d{2,}")


async def gs1_origin(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> Origin:
    return await create_origin(
        api, admin_headers, headers_for, gs1_company_prefix=GS1_PREFIX, gtins={"cacao": GTIN13}
    )


async def test_public_json_tells_origin_and_hides_personal_data(
    api: httpx.AsyncClient, origin: Origin
) -> None:
    shy = await create_farmer(api, origin.headers, origin.cooperative_id, public_name_consent=False)
    shy_plot = await create_plot(api, origin.headers, shy["id"])
    first = await deliver(api, origin, "60")
    second = await deliver(api, origin, "40", farmer_id=shy["id"], plot_id=shy_plot["id"])
    merged = await api.post(
        "/api/v1/lots/merge",
        json={
            "inputs": [
                {"lot_id": first["id"], "quantity_kg": "60"},
                {"lot_id": second["id"], "quantity_kg": "40"},
            ]
        },
        headers=origin.headers,
    )
    assert merged.status_code == 201, merged.text
    code = merged.json()["code"]

    response = await api.get(f"/api/v1/public/lots/{code}")
    assert response.status_code == 200, response.text
    lot = response.json()
    assert lot["code"] == code and lot["product"] == "cacao" and lot["form"] == "baba"
    assert lot["origin"]["farmers"] == 2 and lot["origin"]["plots"] == 2 and lot["origin"]["deliveries"] == 2
    assert lot["origin"]["named_farmers"] == [origin.farmer["name"]]
    assert [c["name"] for c in lot["cooperatives"]] == [origin.cooperative["name"]]
    assert sum(d["share_pct"] for d in lot["origin"]["districts"]) == 100
    assert [s["stage"] for s in lot["journey"]] == ["delivery", "merge"]
    assert lot["journey"][0]["count"] == 2
    # No certificate, verification or layer yet: computed, and nothing can be claimed.
    assert lot["claims"]["available"] is True
    assert {c["status"] for c in lot["claims"]["organic"].values()} == {"not_verified"}
    assert lot["claims"]["coca_free"]["status"] == "not_verified"
    text = response.text
    for secret in (origin.farmer["dni"], shy["dni"], shy["name"], origin.farmer["id"], origin.plot["id"]):
        assert secret not in text
    assert not FINE_COORDINATE.search(text)


async def test_unknown_code_is_a_problem_in_json_and_a_bilingual_page(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/public/lots/XXXXXXXXX")
    assert response.status_code == 404
    assert response.json()["code"] == "lot_not_found"
    page = await api.get("/l/<script>alert(1)</script>")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Lote no encontrado" in page.text and "Lot not found" in page.text
    assert "<script>" not in page.text and "Traceback" not in page.text


async def test_page_speaks_spanish_first_english_on_request(
    api: httpx.AsyncClient, lot: dict[str, Any]
) -> None:
    spanish = await api.get(f"/l/{lot['code']}")
    assert spanish.status_code == 200
    assert '<html lang="es">' in spanish.text and "Recorrido" in spanish.text and "Cacao" in spanish.text
    english = await api.get(f"/l/{lot['code']}", headers={"Accept-Language": "en-GB,en;q=0.9,es;q=0.5"})
    assert '<html lang="en">' in english.text and "Journey" in english.text and "Cocoa" in english.text
    switched = await api.get(f"/l/{lot['code']}?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in switched.text
    assert 'href="?lang=es"' in switched.text  # the switch back, a plain link (works without JavaScript)
    assert spanish.headers["etag"] != english.headers["etag"]
    assert "accept-language" in spanish.headers["vary"].lower()


async def test_page_is_self_contained_small_and_describes_the_product(
    api: httpx.AsyncClient, lot: dict[str, Any]
) -> None:
    page = await api.get(f"/l/{lot['code']}")
    html = page.text
    assert len(page.content) <= 100 * 1024
    # Nothing loaded from anywhere: no external scripts, styles, images, fonts or frames.
    assert not re.search(r"<(script|img|iframe|link)[^>]+(src|href)=\"https?://", html)
    assert not re.search(r"<link[^>]+rel=\"stylesheet\"", html)
    assert "@import" not in html and "url(" not in html
    assert "<script src" not in html
    (ld,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    product = json.loads(ld)
    assert product["@type"] == "Product" and product["sku"] == lot["code"]
    assert product["countryOfOrigin"]["identifier"] == "PE"


async def test_page_and_json_are_revalidated_by_etag_and_change_with_the_ledger(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    url = f"/l/{lot['code']}"
    first = await api.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    assert "last-modified" in first.headers
    again = await api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    await event(api, origin.headers, lot["id"], type="quality", moisture_pct="7.0", grade="Grado 1")
    changed = await api.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "Grado 1" in changed.text and "Control de calidad" in changed.text

    json_first = await api.get(f"/api/v1/public/lots/{lot['code']}")
    assert json_first.json()["quality"]["grade"] == "Grado 1"
    assert (
        await api.get(
            f"/api/v1/public/lots/{lot['code']}", headers={"If-None-Match": json_first.headers["etag"]}
        )
    ).status_code == 304


async def test_a_new_event_on_an_ancestor_changes_a_descendant_page(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await split(api, origin.headers, lot["id"], "30", "20")
    assert response.status_code == 201, response.text
    bag = response.json()["lots"][0]
    before = await api.get(f"/l/{bag['code']}")
    # The parent's delivery is corrected: the bag's provenance rests on it.
    timeline = (await api.get(f"/api/v1/lots/{lot['id']}/events", headers=origin.headers)).json()["items"]
    delivery = next(e for e in timeline if e["type"] == "delivery")
    corrected = await api.post(
        f"/api/v1/lots/{lot['id']}/events",
        json={
            "type": "correction",
            "corrects_event_id": delivery["id"],
            "explanation": "scale",
            "quantity_kg": "90",
        },
        headers=origin.headers,
    )
    assert corrected.status_code == 201, corrected.text
    after = await api.get(f"/l/{bag['code']}", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]


async def test_resolver_redirects_to_the_page_and_to_the_link_type_asked(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    lot = await deliver(api, await gs1_origin(api, admin_headers, headers_for), "80")
    assert lot["digital_link"].endswith(f"/01/{GTIN14}/10/{lot['code']}")
    path = f"/01/{GTIN14}/10/{lot['code']}"
    default = await api.get(path)
    assert default.status_code == 307
    assert default.headers["location"].endswith(f"/l/{lot['code']}")
    assert 'rel="linkset"' in default.headers["link"]
    traceability = await api.get(path, params={"linkType": "gs1:traceability"})
    assert traceability.status_code == 307
    assert traceability.headers["location"].endswith(f"/api/v1/public/lots/{lot['code']}")
    certification = await api.get(path, params={"linkType": "https://gs1.org/voc/certificationInfo"})
    assert certification.headers["location"].endswith(f"/api/v1/claims/lots/{lot['id']}")
    epcis = await api.get(path, params={"linkType": "gs1:epcis"})
    assert epcis.headers["location"].endswith(f"/api/v1/lots/{lot['id']}/events?format=epcis")
    unknown = await api.get(path, params={"linkType": "gs1:recipeInfo"})
    assert unknown.status_code == 307 and unknown.headers["location"].endswith(f"/l/{lot['code']}")


async def test_resolver_answers_a_linkset_on_request(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    lot = await deliver(api, await gs1_origin(api, admin_headers, headers_for), "80")
    path = f"/01/{GTIN14}/10/{lot['code']}"
    for response in (
        await api.get(path, params={"linkType": "all"}),
        await api.get(path, headers={"Accept": "application/linkset+json"}),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/linkset+json")
        (context,) = response.json()["linkset"]
        assert context["anchor"].endswith(path)
        pip = context["https://gs1.org/voc/pip"][0]
        assert pip["href"].endswith(f"/l/{lot['code']}") and pip["type"] == "text/html"
        assert set(pip["hreflang"]) == {"es", "en"}
        assert context["https://gs1.org/voc/defaultLink"] == [pip]
        for relation in ("traceability", "certificationInfo", "epcis"):
            assert context[f"https://gs1.org/voc/{relation}"][0]["href"].startswith("http")
        text = response.text
        assert not DNI.search(text) and not FINE_COORDINATE.search(text)


async def test_resolver_refuses_unknown_items_and_bad_check_digits(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    lot = await deliver(api, await gs1_origin(api, admin_headers, headers_for), "80")
    assert (await api.get(f"/01/{GTIN14}/10/XXXXXXXXX")).status_code == 404
    other_gtin = "0" + "775123400002"[:12] + ean.calc_check_digit("775123400002"[:12])
    assert (await api.get(f"/01/{other_gtin}/10/{lot['code']}")).status_code == 404
    bad = await api.get(f"/01/{BAD_GTIN14}/10/{lot['code']}")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_gtin"
    assert (await api.get(f"/01/{GTIN14}")).status_code == 404


async def test_lot_without_gtin_is_not_reachable_through_the_resolver(
    api: httpx.AsyncClient, lot: dict[str, Any]
) -> None:
    assert lot["digital_link"].endswith(f"/l/{lot['code']}")
    assert (await api.get(f"/01/{GTIN14}/10/{lot['code']}")).status_code == 404


async def test_resolver_describes_itself(api: httpx.AsyncClient) -> None:
    response = await api.get("/.well-known/gs1resolver")
    assert response.status_code == 200
    description = response.json()
    # GS1-Conformant Resolver description file: primary keys by AI, link type namespaces with prefixes.
    assert description["supportedPrimaryKeys"] == ["01"]
    assert description["supportedLinkType"] == [{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}]
    assert description["linkTypeDefaultCanBeLinkset"] is False
    assert description["resolverRoot"].startswith("http")
    served = {"gs1:pip", "gs1:traceability", "gs1:certificationInfo", "gs1:epcis"}
    assert set(description["linkTypes"]) >= served
    assert description["linksetMediaType"] == "application/linkset+json"


async def test_no_dni_and_no_fine_coordinate_anywhere_public(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    origin = await gs1_origin(api, admin_headers, headers_for)
    lot = await deliver(api, origin, "80")
    texts = [
        (await api.get(f"/l/{lot['code']}")).text,
        (await api.get(f"/l/{lot['code']}?lang=en")).text,
        (await api.get(f"/api/v1/public/lots/{lot['code']}")).text,
        (await api.get(f"/01/{GTIN14}/10/{lot['code']}?linkType=all")).text,
    ]
    for text in texts:
        assert origin.farmer["dni"] not in text
        assert not DNI.search(re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.+]+", "", text))
        assert not FINE_COORDINATE.search(text)


async def test_scans_are_counted_per_lot_and_shown_to_its_cooperative_only(
    api: httpx.AsyncClient,
    platform: AllInOne,
    origin: Origin,
    lot: dict[str, Any],
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
) -> None:
    for _ in range(3):
        assert (await api.get(f"/l/{lot['code']}")).status_code == 200
    # The language switch is not a scan.
    assert (await api.get(f"/l/{lot['code']}?lang=en")).status_code == 200
    scans = await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=origin.headers)
    assert scans.status_code == 200, scans.text
    assert scans.json()["total"] == 3
    # Written to the database in one statement; counted again on top of what is stored.
    lots_app = platform.apps["lots"]
    await lots_app.state.scans.flush(lots_app.state.database)
    assert lots_app.state.scans.pending == 0
    assert (await api.get(f"/l/{lot['code']}")).status_code == 200
    await lots_app.state.scans.flush(lots_app.state.database)
    body = (await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=origin.headers)).json()
    assert body["total"] == 4
    assert [d["scans"] for d in body["days"]] == [4]
    other = await create_origin(api, admin_headers, headers_for)
    assert (await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=other.headers)).status_code == 404
    assert (await api.get(f"/api/v1/lots/{lot['id']}/scans")).status_code == 401


async def test_a_cached_page_is_served_until_the_watch_marks_its_lot(
    api: httpx.AsyncClient, platform: AllInOne, origin: Origin, lot: dict[str, Any]
) -> None:
    lots_app = platform.apps["lots"]
    now = [100.0]
    cache = PublicCache(clock=lambda: now[0])
    watch = ChangeWatch(cache, lots_app.state.database.read_sessions, every=5.0)

    async def entry() -> Entry:
        return await cached_entry(platform, cache, lot["code"].lower())  # as a person may type it

    await watch.poll()  # at 100: trusted until 115
    now[0] += 1
    first = await entry()
    assert first.lot.quality is None
    await event(api, origin.headers, lot["id"], type="quality", grade="Grado 1")
    now[0] += 1
    assert await entry() is first  # the watch has not looked since: served without a query
    now[0] += 1
    assert lot["id"] in await watch.poll()  # at 103
    now[0] += 1
    fresh = await entry()
    assert fresh is not first and fresh.tag != first.tag
    assert fresh.lot.quality is not None and fresh.lot.quality.grade == "Grado 1"
    now[0] += 1
    assert await watch.poll() == set()  # nothing new: the event is recognised, not found again
    assert await entry() is fresh
    now[0] += 20  # the watch stopped polling: no longer trusted, every request checks
    assert not cache.fresh(fresh)
    assert await entry() is fresh  # checked, nothing changed: the same entry


async def test_what_happens_to_a_parent_after_a_bag_left_it_is_not_the_bags_history(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    response = await split(api, origin.headers, lot["id"], "30")
    assert response.status_code == 201, response.text
    bag = response.json()["lots"][0]
    before = (await api.get(f"/api/v1/public/lots/{bag['code']}")).json()
    assert [s["stage"] for s in before["journey"]] == ["delivery", "split"]
    etag = (await api.get(f"/l/{bag['code']}")).headers["etag"]

    # What remained of the parent is merged elsewhere and graded as rejected: not the bag's story.
    other = await deliver(api, origin, "50")
    merged = await api.post(
        "/api/v1/lots/merge",
        json={
            "inputs": [
                {"lot_id": lot["id"], "quantity_kg": "70"},
                {"lot_id": other["id"], "quantity_kg": "50"},
            ]
        },
        headers=origin.headers,
    )
    assert merged.status_code == 201, merged.text
    await event(api, origin.headers, lot["id"], type="quality", grade="Rechazo", moisture_pct="12.0")

    after = (await api.get(f"/api/v1/public/lots/{bag['code']}")).json()
    assert [s["stage"] for s in after["journey"]] == ["delivery", "split"]
    assert after["quality"] is None
    again = await api.get(f"/l/{bag['code']}", headers={"If-None-Match": etag})
    assert again.status_code == 304  # nothing the bag's page shows has changed
    # The merged lot's history has its parents' deliveries and the merge, not the bag's split.
    merged_public = (await api.get(f"/api/v1/public/lots/{merged.json()['code']}")).json()
    assert [s["stage"] for s in merged_public["journey"]] == ["delivery", "merge"]
    assert merged_public["journey"][0]["count"] == 2


async def test_a_name_cannot_break_out_of_the_json_ld_or_the_page(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    name = 'Coop <!--<script></script>"&'
    origin = await create_origin(api, admin_headers, headers_for, name=name)
    lot = await deliver(api, origin, "10")
    html = (await api.get(f"/l/{lot['code']}")).text
    (ld,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert "<" not in ld and ">" not in ld and "&" not in ld
    assert json.loads(ld)["manufacturer"][0]["name"] == name
    assert html.count("<script") == 1  # nothing the name carries became markup
    assert "Coop &lt;!--&lt;script&gt;" in html


async def test_the_page_renders_when_the_certification_service_is_unreachable(
    api: httpx.AsyncClient, platform: AllInOne, settings: Settings, lot: dict[str, Any]
) -> None:
    lots_app = platform.apps["lots"]
    # As in distributed mode with certification down: nothing listens on port 9 of loopback.
    down = settings.model_copy(update={"certification": ServiceSettings(url="http://127.0.0.1:9")})
    lots_app.state.public_claims = CertificationClaims(down, peers={})
    try:
        page = await api.get(f"/l/{lot['code']}")
        assert page.status_code == 200
        assert "Temporalmente no disponible" in page.text
        data = (await api.get(f"/api/v1/public/lots/{lot['code']}")).json()
        assert data["claims"] == {
            "available": False,
            "organic": {},
            "coca_free": None,
            "deforestation_free": None,
        }
    finally:
        await lots_app.state.public_claims.aclose()


async def test_public_routes_answer_head_like_get_without_a_body(
    api: httpx.AsyncClient,
    platform: AllInOne,
    admin_headers: dict[str, str],
    headers_for: HeadersFor,
) -> None:
    origin = await gs1_origin(api, admin_headers, headers_for)
    lot = await deliver(api, origin, "80")
    for url in (f"/api/v1/public/lots/{lot['code']}", f"/l/{lot['code']}", "/.well-known/gs1resolver"):
        got = await api.get(url)
        head = await api.head(url)
        assert head.status_code == got.status_code == 200, url
        assert head.content == b"", url
        assert head.headers["content-type"] == got.headers["content-type"], url
        assert head.headers["content-length"] == got.headers["content-length"], url  # the size a GET sends
        assert head.headers.get("etag") == got.headers.get("etag"), url
    path = f"/01/{GTIN14}/10/{lot['code']}"
    redirect = await api.head(path)
    assert redirect.status_code == 307 and redirect.headers["location"].endswith(f"/l/{lot['code']}")
    linkset = await api.head(path, params={"linkType": "all"})
    assert linkset.status_code == 200 and linkset.content == b""
    assert linkset.headers["content-type"].startswith("application/linkset+json")
    missing = await api.head("/api/v1/public/lots/XXXXXXXXX")
    assert missing.status_code == 404 and missing.content == b""
    assert (await api.head("/l/XXXXXXXXX")).status_code == 404
    # Two GETs above were scans; the HEADs were not.
    scans = await api.get(f"/api/v1/lots/{lot['id']}/scans", headers=origin.headers)
    assert scans.json()["total"] == 1
    assert platform.apps["lots"].state.scans.pending_of(lot["id"]) != {}


async def test_resolver_answers_vary_by_accept_and_weigh_its_q_values(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    lot = await deliver(api, await gs1_origin(api, admin_headers, headers_for), "80")
    path = f"/01/{GTIN14}/10/{lot['code']}"
    expected = {
        "application/linkset+json;q=0, text/html": 307,
        "text/html, application/linkset+json;q=0.5": 307,
        "text/html;q=0.5, Application/Linkset+JSON;q=0.9": 200,
        "application/linkset+json ; q=1.0": 200,
        "application/linkset+json;q=bogus": 307,
        "*/*": 307,
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": 307,
    }
    for accept, status in expected.items():
        response = await api.get(path, headers={"Accept": accept})
        assert response.status_code == status, accept
        assert "accept" in response.headers["vary"].lower(), accept
    assert "accept" in (await api.get(path, params={"linkType": "all"})).headers["vary"].lower()


async def test_resolver_takes_the_lot_from_the_path_never_from_the_query(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    origin = await gs1_origin(api, admin_headers, headers_for)
    lot = await deliver(api, origin, "80")
    other = await deliver(api, origin, "20")
    response = await api.get(f"/01/{GTIN14}/10/{lot['code']}", params={"10": other["code"]})
    assert response.status_code == 307
    assert response.headers["location"].endswith(f"/l/{lot['code']}")
    unknown = await api.get(f"/01/{GTIN14}/10/XXXXXXXXX", params={"10": lot["code"]})
    assert unknown.status_code == 404


async def test_a_serialised_link_falls_back_to_the_lot(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: HeadersFor
) -> None:
    lot = await deliver(api, await gs1_origin(api, admin_headers, headers_for), "80")
    path = f"/01/{GTIN14}/10/{lot['code']}/21/SACO-0007"
    default = await api.get(path)
    assert default.status_code == 307 and default.headers["location"].endswith(f"/l/{lot['code']}")
    traceability = await api.get(path, params={"linkType": "gs1:traceability"})
    assert traceability.headers["location"].endswith(f"/api/v1/public/lots/{lot['code']}")
    linkset = await api.get(path, params={"linkType": "all"})
    assert linkset.status_code == 200
    (context,) = linkset.json()["linkset"]
    assert context["anchor"].endswith(f"/01/{GTIN14}/10/{lot['code']}")
    assert (await api.get(f"/01/{GTIN14}/10/XXXXXXXXX/21/SACO-0007")).status_code == 404
    assert (await api.get(f"/01/{BAD_GTIN14}/10/{lot['code']}/21/SACO-0007")).status_code == 400


async def test_claims_are_asked_again_only_when_certifications_version_moves(
    platform: AllInOne, lot: dict[str, Any]
) -> None:
    cache = PublicCache()
    asked: list[str] = []
    mark = ["v1"]

    async def claims(lot_id: str) -> PublicClaims:
        asked.append(lot_id)
        return PublicClaims(available=True)

    async def version() -> str | None:
        return mark[0]

    async def entry() -> Entry:
        return await cached_entry(platform, cache, lot["code"], claims=claims, claims_version=version)

    first = await entry()
    assert await entry() is first and len(asked) == 1  # checked again: same version, no claims asked
    mark[0] = "v2"
    second = await entry()
    assert len(asked) == 2 and second.tag != first.tag


async def test_the_page_draws_where_in_peru_the_lot_comes_from_at_a_tenth_of_a_degree(
    api: httpx.AsyncClient, origin: Origin, lot: dict[str, Any]
) -> None:
    data = (await api.get(f"/api/v1/public/lots/{lot['code']}")).json()
    coarse = data["origin"]["map"]
    ubigeos = [d["ubigeo"] for d in data["origin"]["districts"]]
    assert [p["ubigeo"] for p in coarse["places"]] == ubigeos and len(coarse["outline"]) >= 50
    for lon, lat in [*coarse["outline"], *((p["lon"], p["lat"]) for p in coarse["places"])]:
        assert round(lon, 1) == lon and round(lat, 1) == lat
    html = (await api.get(f"/l/{lot['code']}")).text
    (svg,) = re.findall(r'<svg class="map".*?</svg>', html, re.S)
    assert svg.count("<circle") == len(ubigeos) == 1
    assert "Mapa del Perú" in svg and "http" not in svg  # drawn here, nothing fetched
    # Inside the outline's box: a dot in San Martín sits in the north half of the drawing.
    width, height = (int(n) + 0 for n in re.search(r'viewBox="-8 -8 (\d+) (\d+)"', svg).groups())  # type: ignore[union-attr]
    x, y = (int(n) for n in re.search(r'cx="(\d+)" cy="(\d+)"', svg).groups())  # type: ignore[union-attr]
    assert 0 < x < width - 16 and 0 < y < (height - 16) / 2
    assert not FINE_COORDINATE.search(html) and not FINE_COORDINATE.search(json.dumps(data))


async def test_without_the_registrys_map_the_page_renders_without_one(
    api: httpx.AsyncClient, platform: AllInOne, lot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(self: Any, ubigeos: Any) -> Any:
        raise ServiceUnavailable("The cooperatives service could not be reached.")

    monkeypatch.setattr(CooperativesClient, "get_map", unreachable)
    page = await api.get(f"/l/{lot['code']}")
    assert page.status_code == 200 and '<svg class="map"' not in page.text
    assert lot["code"] in page.text
    assert (await api.get(f"/api/v1/public/lots/{lot['code']}")).json()["origin"]["map"] is None
