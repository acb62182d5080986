"""The EUDR due-diligence geolocation of a lot: exactly its plots, 6 decimals, points only up to 4 ha."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from services.certification.service.reading import eudr_geojson
from services.cooperatives.client import PlotRead
from services.lots.client import ProvenanceRead
from shared.auth import Principal, Role
from shared.errors import ValidationFailed
from tests.certification.calls import HeadersFor, deliver_from, merge, new_plot, next_corner
from tests.certification.test_attachments import EXPORTER, hand_over
from tests.factories import Origin

EUDR = "/api/v1/claims/lots/{}/eudr.geojson"


def decimals(value: Any) -> int:
    exponent = Decimal(str(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def positions(geometry: dict[str, Any]) -> list[list[float]]:
    if geometry["type"] == "Point":
        return [geometry["coordinates"]]
    return [p for ring in geometry["coordinates"] for p in ring]


@pytest.fixture
async def exported_lot(api: httpx.AsyncClient, origin: Origin) -> dict[str, Any]:
    """A lot from a precise polygon and a 3.5 ha point, handed to the exporter; a third plot stays out."""
    lon, lat = next_corner()
    precise = [
        [lon + 0.00012345, lat + 0.00054321],
        [lon + 0.00091234, lat + 0.00054321],
        [lon + 0.00091234, lat + 0.00143219],
        [lon + 0.00012345, lat + 0.00054321],
    ]
    polygon = await new_plot(api, origin, geometry={"type": "Polygon", "coordinates": [precise]})
    px, py = next_corner()
    point = await new_plot(
        api,
        origin,
        geometry={"type": "Point", "coordinates": [round(px + 0.000417, 6), round(py + 0.000391, 6)]},
        area_ha="3.5",
    )
    outside = await new_plot(api, origin)
    merged = await merge(api, origin.headers, [await deliver_from(api, origin, p) for p in (polygon, point)])
    await hand_over(api, origin, merged["id"])
    return {"lot": merged, "polygon": polygon, "point": point, "outside": outside}


async def test_the_export_holds_exactly_the_contributing_plots(
    api: httpx.AsyncClient, origin: Origin, exported_lot: dict[str, Any], headers_for: HeadersFor
) -> None:
    exporter = headers_for("exporter", organization=EXPORTER)

    response = await api.get(EUDR.format(exported_lot["lot"]["id"]), headers=exporter)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    document = json.loads(response.text)
    assert document["type"] == "FeatureCollection"
    places = sorted(f["properties"]["ProductionPlace"].split(",")[0] for f in document["features"])
    assert places == sorted([exported_lot["polygon"]["name"], exported_lot["point"]["name"]])
    for item in document["features"]:
        assert item["properties"]["ProducerCountry"] == "PE"
        assert item["properties"]["ProducerName"] == origin.farmer["name"]
        assert exported_lot["outside"]["name"] not in item["properties"]["ProductionPlace"]


async def test_coordinates_have_six_decimals_and_points_only_for_small_plots(
    api: httpx.AsyncClient, exported_lot: dict[str, Any], headers_for: HeadersFor
) -> None:
    exporter = headers_for("exporter", organization=EXPORTER)

    document = json.loads((await api.get(EUDR.format(exported_lot["lot"]["id"]), headers=exporter)).text)

    by_type = {f["geometry"]["type"]: f for f in document["features"]}
    assert set(by_type) == {"Polygon", "Point"}
    assert by_type["Point"]["properties"]["Area"] == 3.5
    assert by_type["Polygon"]["properties"]["Area"] > 0
    for item in document["features"]:
        assert item["geometry"]["type"] == "Polygon" or item["properties"]["Area"] <= 4
        assert all(decimals(c) <= 6 for p in positions(item["geometry"]) for c in p)
    registered = exported_lot["polygon"]["geometry"]["coordinates"][0]
    assert by_type["Polygon"]["geometry"]["coordinates"][0] == [
        [round(x, 6), round(y, 6)] for x, y in registered
    ]
    assert registered != by_type["Polygon"]["geometry"]["coordinates"][0]


async def test_only_those_who_may_see_the_lot_export_it(
    api: httpx.AsyncClient, origin: Origin, exported_lot: dict[str, Any], headers_for: HeadersFor
) -> None:
    path = EUDR.format(exported_lot["lot"]["id"])

    assert (await api.get(path)).status_code == 401
    assert (await api.get(path, headers=headers_for("exporter", organization="Otra SAC"))).status_code == 404
    certifier = await api.get(path, headers=headers_for("certifier", certifying_body_id="cb_x"))
    assert (certifier.status_code, certifier.json()["code"]) == (403, "role_required")
    assert (await api.get(path, headers=origin.headers)).status_code == 200


class PlotsGone:
    """Peers whose registry no longer knows one of the lot's plots."""

    def __init__(self, provenance: ProvenanceRead, plots: dict[str, PlotRead]) -> None:
        self._answer = (provenance, plots)

    async def provenance(self, lot_id: str, *, token: str) -> tuple[ProvenanceRead, dict[str, PlotRead]]:
        return self._answer


async def test_a_lot_with_a_plot_without_geometry_is_refused_with_the_list(
    api: httpx.AsyncClient, origin: Origin, exported_lot: dict[str, Any]
) -> None:
    lot_id = exported_lot["lot"]["id"]
    provenance = ProvenanceRead.model_validate(
        (await api.get(f"/api/v1/lots/{lot_id}/provenance", headers=origin.headers)).json()
    )
    kept = PlotRead.model_validate(exported_lot["polygon"])
    manager = Principal(user_id="u", username="m", role=Role.MANAGER, cooperative_id=origin.cooperative_id)

    with pytest.raises(ValidationFailed) as refused:
        await eudr_geojson(PlotsGone(provenance, {kept.id: kept}), manager, lot_id, token="t")  # type: ignore[arg-type]

    assert refused.value.instance_code == "plots_without_geometry"
    assert exported_lot["point"]["id"] in refused.value.detail
    assert exported_lot["polygon"]["id"] not in refused.value.detail
