"""The coarse map: Peru's outline and where districts lie, to 0.1° — what a lot's public page draws."""

from __future__ import annotations

import httpx

from services.cooperatives.reference import district_places

MAP = "/api/v1/cooperatives/map"


def decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


async def test_the_map_places_each_district_asked_to_a_tenth_of_a_degree(api: httpx.AsyncClient) -> None:
    tarapoto, huanuco, unplaced = "220901", "100101", "010102"  # the last: a district without a place
    assert unplaced not in district_places()
    response = await api.get(MAP, params={"ubigeo": [tarapoto, huanuco, unplaced, tarapoto]})  # no login
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["ubigeo"] for p in body["places"]] == [tarapoto, huanuco]  # each once, as asked
    for place in body["places"]:
        exact = district_places()[place["ubigeo"]]
        assert abs(place["lon"] - exact[0]) <= 0.05 + 1e-9 and abs(place["lat"] - exact[1]) <= 0.05 + 1e-9
        assert decimals(place["lon"]) <= 1 and decimals(place["lat"]) <= 1
    outline = body["outline"]
    assert 50 <= len(outline) <= 400 and outline[0] == outline[-1]  # a closed ring, a drawing's worth
    assert all(decimals(lon) <= 1 and decimals(lat) <= 1 for lon, lat in outline)
    lons, lats = [lon for lon, _ in outline], [lat for _, lat in outline]
    assert -81.5 <= min(lons) < -81 and -69 < max(lons) <= -68.5  # Peru: Talara to the Bolivian border
    assert -18.5 <= min(lats) < -18 and -0.2 < max(lats) <= 0  # Tacna to the Putumayo


async def test_unknown_or_too_many_districts_are_refused_by_name(api: httpx.AsyncClient) -> None:
    unknown = await api.get(MAP, params={"ubigeo": ["220901", "999999"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "ubigeo" and "999999" in unknown.json()["detail"]
    many = await api.get(MAP, params={"ubigeo": ["220901"] * 201})
    assert many.status_code == 422 and many.json()["errors"][0]["code"] == "too_many"
    none = await api.get(MAP)
    assert none.status_code == 200 and none.json()["places"] == [] and none.json()["outline"]
