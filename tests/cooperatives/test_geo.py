"""Plot geometry under the EUDR rules: one problem code per rule, and a geodesic area checked
against an independent closed form (the exact area of a latitude/longitude cell on WGS84)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, cast

import pytest

from services.cooperatives.geo import dump_geojson, parse_geometry_text, validate_plot_geometry
from shared.errors import ValidationFailed
from tests.factories import TARAPOTO_POINT, TARAPOTO_POLYGON

# WGS84, from its defining constants only.
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84_E = math.sqrt(WGS84_E2)

TARAPOTO_RING = cast(list[list[float]], TARAPOTO_POLYGON["coordinates"][0])

# Bow-tie: the edges A→B and C→D cross.
BOW_TIE = [
    [-76.360123, -6.490456],
    [-76.359087, -6.489421],
    [-76.359102, -6.490433],
    [-76.360141, -6.489437],
    [-76.360123, -6.490456],
]


def _authalic(phi: float) -> float:
    s = math.sin(phi)
    return s / (2 * (1 - WGS84_E2 * s * s)) + math.log((1 + WGS84_E * s) / (1 - WGS84_E * s)) / (4 * WGS84_E)


def cell_area_m2(west: float, south: float, east: float, north: float) -> float:
    """Exact area on the WGS84 ellipsoid between two meridians and two parallels."""
    return (
        WGS84_B**2
        * math.radians(east - west)
        * (_authalic(math.radians(north)) - _authalic(math.radians(south)))
    )


def rectangle(
    west: str, south: str, east: str, north: str, *, clockwise: bool = False
) -> list[list[Decimal]]:
    w, s, e, n = (Decimal(v) for v in (west, south, east, north))
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return ring[::-1] if clockwise else ring


def polygon(*rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def refused(geometry: Any, *, area_ha: Decimal | None = None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        validate_plot_geometry(geometry, area_ha=area_ha)
    return info.value


def assert_rule(error: ValidationFailed, code: str, field: str) -> None:
    assert error.instance_code == code
    assert error.errors is not None
    assert (error.errors[0].code, error.errors[0].field) == (code, field)


# the independent truth


def test_cell_area_formula_gives_the_whole_wgs84_ellipsoid() -> None:
    whole_km2 = 2 * cell_area_m2(-180, 0, 180, 90) / 1e6
    assert whole_km2 == pytest.approx(510_065_621.7, abs=0.1)


def test_polygon_area_matches_the_exact_ellipsoidal_area_of_a_cell_near_tarapoto() -> None:
    corners = ("-76.371234", "-6.501234", "-76.366234", "-6.497234")  # ~550 m x ~440 m
    truth_ha = cell_area_m2(*(float(c) for c in corners)) / 10_000
    assert 1 < truth_ha < 50
    checked = validate_plot_geometry(polygon(rectangle(*corners)), area_ha=None)
    assert float(checked.area_ha) == pytest.approx(truth_ha, rel=0.005)
    assert float(checked.area_ha) == pytest.approx(truth_ha, abs=0.001)  # far closer: to 10 m²


def test_clockwise_polygon_has_the_same_positive_area() -> None:
    corners = ("-76.371234", "-6.501234", "-76.366234", "-6.497234")
    ccw = validate_plot_geometry(polygon(rectangle(*corners)), area_ha=None)
    cw = validate_plot_geometry(polygon(rectangle(*corners, clockwise=True)), area_ha=None)
    assert cw.area_ha == ccw.area_ha > 0


@pytest.mark.parametrize("hole_clockwise", [True, False], ids=["hole-against-shell", "hole-like-shell"])
def test_polygon_hole_is_subtracted_whatever_its_winding(hole_clockwise: bool) -> None:
    outer = ("-76.371234", "-6.501234", "-76.361234", "-6.491234")
    inner = ("-76.368234", "-6.498234", "-76.364234", "-6.494234")
    truth_ha = (cell_area_m2(*map(float, outer)) - cell_area_m2(*map(float, inner))) / 10_000
    geometry = polygon(rectangle(*outer), rectangle(*inner, clockwise=hole_clockwise))
    checked = validate_plot_geometry(geometry, area_ha=None)
    assert float(checked.area_ha) == pytest.approx(truth_ha, rel=0.005)


def test_factory_polygon_is_about_one_hectare() -> None:
    checked = validate_plot_geometry(TARAPOTO_POLYGON, area_ha=None)
    assert checked.type == "Polygon"
    assert Decimal("1.0") < checked.area_ha < Decimal("1.3")
    assert -76.3602 < checked.centroid_lon < -76.3590
    assert -6.4905 < checked.centroid_lat < -6.4894


# one code per rule


@pytest.mark.parametrize("kind", ["LineString", "MultiPolygon", "GeometryCollection", None])
def test_geometry_type_other_than_point_or_polygon_is_unsupported(kind: str | None) -> None:
    error = refused({"type": kind, "coordinates": [TARAPOTO_POLYGON["coordinates"]]})
    assert_rule(error, "geometry_type_unsupported", "geometry.type")


def test_geometry_that_is_not_an_object_is_malformed() -> None:
    assert_rule(refused([-76.365123, -6.487456]), "geometry_malformed", "geometry")


@pytest.mark.parametrize(
    "coordinates",
    [["-76.365123", "-6.487456"], [-76.365123], [-76.365123, True], [-76.365123, float("nan")]],
    ids=["strings", "one-number", "boolean", "nan"],
)
def test_point_position_that_is_not_two_numbers_is_malformed(coordinates: list[Any]) -> None:
    error = refused({"type": "Point", "coordinates": coordinates}, area_ha=Decimal(1))
    assert_rule(error, "geometry_malformed", "geometry.coordinates")


@pytest.mark.parametrize(
    "coordinates", [[], "nope", [[-76.360123, -6.490456]]], ids=["empty", "text", "no-ring"]
)
def test_polygon_coordinates_that_are_not_rings_are_malformed(coordinates: Any) -> None:
    error = refused({"type": "Polygon", "coordinates": coordinates})
    assert error.instance_code == "geometry_malformed"


def test_point_with_one_decimal_fails_precision() -> None:
    error = refused({"type": "Point", "coordinates": [-76.4, -6.5]}, area_ha=Decimal(1))
    assert_rule(error, "coordinate_precision", "geometry.coordinates")


def test_polygon_that_never_reaches_six_decimals_fails_precision() -> None:
    ring = [[round(lon, 5), round(lat, 5)] for lon, lat in TARAPOTO_RING]
    assert_rule(refused(polygon(ring)), "coordinate_precision", "geometry.coordinates")


def test_polygon_with_trailing_zeros_lost_on_some_coordinates_is_accepted() -> None:
    # -76.360120 travelled as -76.36012: five digits shown, the others show six.
    ring = [
        [Decimal("-76.36012"), Decimal("-6.490456")],
        [Decimal("-76.359087"), Decimal("-6.490433")],
        [Decimal("-76.359102"), Decimal("-6.48942")],
        [Decimal("-76.360141"), Decimal("-6.489437")],
        [Decimal("-76.36012"), Decimal("-6.490456")],
    ]
    checked = validate_plot_geometry(polygon(ring), area_ha=None)
    assert checked.area_ha > 0
    assert "-76.36012," in checked.geojson


def test_polygon_with_one_coordinate_under_four_decimals_fails_precision() -> None:
    ring = [[Decimal(str(lon)), Decimal(str(lat))] for lon, lat in TARAPOTO_RING]
    ring[2][1] = Decimal("-6.489")
    assert_rule(refused(polygon(ring)), "coordinate_precision", "geometry.coordinates")


@pytest.mark.parametrize(
    "position", [[-200.123456, -6.487456], [-76.365123, -95.487456], [180.000001, 0.123456]]
)
def test_coordinate_outside_wgs84_range_is_refused(position: list[float]) -> None:
    error = refused({"type": "Point", "coordinates": position}, area_ha=Decimal(1))
    assert_rule(error, "coordinate_out_of_range", "geometry.coordinates")


def test_polygon_ring_of_three_positions_has_too_few() -> None:
    ring = [[-76.360123, -6.490456], [-76.359087, -6.490433], [-76.360123, -6.490456]]
    assert_rule(refused(polygon(ring)), "polygon_too_few_positions", "geometry.coordinates")


def test_polygon_ring_whose_last_position_differs_is_unclosed() -> None:
    ring = [*TARAPOTO_RING[:-1], [-76.360124, -6.490456]]
    assert_rule(refused(polygon(ring)), "polygon_ring_unclosed", "geometry.coordinates")


def test_bow_tie_polygon_is_self_intersecting() -> None:
    assert_rule(refused(polygon(BOW_TIE)), "polygon_self_intersecting", "geometry.coordinates")


def test_point_without_area_requires_area() -> None:
    assert_rule(refused(TARAPOTO_POINT, area_ha=None), "point_area_required", "area_ha")


def test_point_declared_over_four_hectares_must_be_a_polygon() -> None:
    error = refused(TARAPOTO_POINT, area_ha=Decimal("4.5"))
    assert_rule(error, "point_plot_over_4ha", "geometry")


def test_point_of_exactly_four_hectares_is_accepted() -> None:
    checked = validate_plot_geometry(TARAPOTO_POINT, area_ha=Decimal("4.0"))
    assert (checked.type, checked.area_ha) == ("Point", Decimal("4.0000"))
    assert (checked.centroid_lon, checked.centroid_lat) == (-76.365123, -6.487456)


@pytest.mark.parametrize("area", ["0", "-1.5", "0.00004"], ids=["zero", "negative", "rounds-to-zero"])
def test_point_area_that_is_not_positive_is_refused(area: str) -> None:
    assert_rule(refused(TARAPOTO_POINT, area_ha=Decimal(area)), "area_not_positive", "area_ha")


def test_polygon_too_small_to_have_area_is_refused() -> None:
    tiny = rectangle("-76.360123", "-6.490457", "-76.360122", "-6.490456")  # ~0.01 m²
    assert_rule(refused(polygon(tiny)), "area_not_positive", "geometry.coordinates")


@pytest.mark.parametrize(
    "position",
    [[-68.119312, -16.489721], [-67.824317, -9.974713], [-78.467811, -0.180712], [-72.790123, -1.440123]],
    ids=["la-paz-bolivia", "rio-branco-brazil", "quito-ecuador", "la-chorrera-colombia"],
)
def test_point_in_a_neighbouring_country_is_outside_peru(position: list[float]) -> None:
    error = refused({"type": "Point", "coordinates": position}, area_ha=Decimal(1))
    assert_rule(error, "outside_peru", "geometry.coordinates")


def test_polygon_straddling_the_bolivian_border_is_outside_peru() -> None:
    # From Kelluyo (Puno, Peru) across the Desaguadero river to Guaqui (Bolivia).
    west_in_peru = {"type": "Point", "coordinates": [Decimal("-69.200000"), Decimal("-16.600000")]}
    assert validate_plot_geometry(west_in_peru, area_ha=Decimal(1)).type == "Point"
    straddling = polygon(rectangle("-69.200000", "-16.650000", "-68.850000", "-16.550000"))
    assert_rule(refused(straddling), "outside_peru", "geometry.coordinates")


def test_custom_field_prefixes_the_reported_field() -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_plot_geometry(polygon(BOW_TIE), area_ha=None, field="plots.0.geometry")
    assert info.value.errors is not None
    assert info.value.errors[0].field == "plots.0.geometry.coordinates"


# text input and exact output


def test_geojson_text_keeps_the_digits_as_decimals() -> None:
    parsed = parse_geometry_text('{"type": "Point", "coordinates": [-76.365120, -6.487456]}')
    assert parsed["coordinates"] == [Decimal("-76.365120"), Decimal("-6.487456")]
    assert str(parsed["coordinates"][0]) == "-76.365120"


def test_wkt_point_is_parsed_longitude_first() -> None:
    parsed = parse_geometry_text("  point ( -76.365120  -6.487456 ) ")
    assert parsed == {"type": "Point", "coordinates": [Decimal("-76.365120"), Decimal("-6.487456")]}
    assert str(parsed["coordinates"][0]) == "-76.365120"


def test_wkt_polygon_keeps_trailing_zeros_through_to_the_stored_geojson() -> None:
    text = (
        "POLYGON ((-76.360000 -6.490400, -76.359000 -6.490400, -76.359000 -6.489400, "
        "-76.360000 -6.489400, -76.360000 -6.490400))"
    )
    parsed = parse_geometry_text(text)
    assert parsed["type"] == "Polygon"
    assert len(parsed["coordinates"][0]) == 5
    stored = validate_plot_geometry(parsed, area_ha=None).geojson
    assert stored.startswith('{"type":"Polygon","coordinates":[[[-76.360000,-6.490400],')
    assert json.loads(stored)["coordinates"][0][2] == [-76.359, -6.4894]


def test_dump_geojson_writes_each_coordinate_as_received() -> None:
    text = dump_geojson({"type": "Point", "coordinates": [Decimal("-76.360000"), Decimal("-6.5E+0")]})
    assert text == '{"type":"Point","coordinates":[-76.360000,-6.5]}'


@pytest.mark.parametrize(
    "text",
    [
        "LINESTRING (-76.360000 -6.490400, -76.359000 -6.490400)",
        "POINT (-76.360000)",
        "POLYGON ((-76.360000 -6.490400 12, -76.359000 -6.490400 12))",
        "POLYGON ((abc -6.490400, -76.359000 -6.490400))",
        "POLYGON EMPTY",
        '{"type": "Point", "coordinates": [-76.36,',
        "[-76.360000, -6.490400]",
        "",
    ],
    ids=["linestring", "point-one-number", "3d", "not-a-number", "empty", "bad-json", "json-array", "blank"],
)
def test_bad_geometry_text_is_malformed(text: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_geometry_text(text, field="geometry")
    assert info.value.instance_code == "geometry_malformed"
    assert info.value.errors is not None and info.value.errors[0].field == "geometry"


def test_a_polygon_mostly_written_with_four_decimals_is_refused() -> None:
    ring = [
        [-76.3601, -6.4904],
        [-76.3591, -6.4904],
        [-76.3591, -6.4894],
        [-76.360123, -6.489437],
        [-76.3601, -6.4904],
    ]
    with pytest.raises(ValidationFailed) as refused:
        validate_plot_geometry({"type": "Polygon", "coordinates": [ring]}, area_ha=None)
    assert refused.value.instance_code == "coordinate_precision"
