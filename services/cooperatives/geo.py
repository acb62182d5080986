"""Plot geometry under the EUDR rules (Regulation (EU) 2023/1115, Art. 2(28) and 9(1)(d)).

Every rule has its own problem ``code``. Coordinates are checked as the digits the client sent
(parsed as ``Decimal``). The EUDR asks for six decimal digits, but JSON encoders and spreadsheets
drop trailing zeros (``-76.360100`` travels as ``-76.3601``), so a geometry passes when at least
half of its coordinates show six decimals and none shows fewer than four: a genuine six-decimal
reading ends in ``0`` one time in ten and in ``0000`` once in ten thousand, while a rounded or
hand-typed geometry is caught.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

from services.cooperatives.reference import nearest_districts, peru
from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from pyproj import Geod

MIN_DECIMALS = 6
# The fewest decimals one coordinate may show when others in the geometry show six (see above),
# and the share of coordinates that must show all six.
MIN_DECIMALS_EACH = 4
PRECISE_SHARE = 0.5
POINT_MAX_HA = Decimal(4)
AREA_QUANTUM = Decimal("0.0001")
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_WKT_POINT = re.compile(rf"^\s*POINT\s*\(\s*({_NUMBER})\s+({_NUMBER})\s*\)\s*$", re.IGNORECASE)
_WKT_POLYGON = re.compile(r"^\s*POLYGON\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_WKT_RING = re.compile(r"\(([^()]*)\)")

Position = list[Decimal]


@dataclass(frozen=True, slots=True)
class PlotGeometry:
    type: str
    geojson: str
    area_ha: Decimal
    centroid_lon: float
    centroid_lat: float

    def columns(self, *, ubigeo: str | None) -> dict[str, Any]:
        """The plot table's geometry columns, for an ORM object or a bulk INSERT row.

        ``ubigeo`` is the district the client named, already checked; ``None`` leaves it to
        ``derive_districts``, which finds a whole batch's districts in one query.
        """
        return {
            "geometry_type": self.type,
            "geometry": self.geojson,
            "area_ha": self.area_ha,
            "centroid_lon": self.centroid_lon,
            "centroid_lat": self.centroid_lat,
            "ubigeo": ubigeo,
        }


def derive_districts(rows: Sequence[dict[str, Any]]) -> None:
    """Give each plot row without a ``ubigeo`` the district whose named place is nearest its centroid."""
    missing = [row for row in rows if row["ubigeo"] is None]
    found = nearest_districts([r["centroid_lon"] for r in missing], [r["centroid_lat"] for r in missing])
    for row, district in zip(missing, found, strict=True):
        row["ubigeo"] = district.ubigeo


@cache
def _geod() -> Geod:
    """The WGS84 ellipsoid, for plot areas. pyproj (10 MB in the process) is imported at the first
    plot measured, not with the service: a process serving a fair's scans never measures one."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _fail(field: str, code: str, detail: str) -> ValidationFailed:
    return ValidationFailed.single(field, code, detail)


def parse_geometry_text(text: str, field: str = "geometry") -> dict[str, Any]:
    """A CSV cell holding GeoJSON or WKT (POINT or POLYGON), with coordinates kept as Decimal."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            parsed: Any = json.loads(stripped, parse_float=Decimal, parse_int=Decimal)
        except ValueError as exc:
            raise _fail(field, "geometry_malformed", f"Not valid GeoJSON: {exc}.") from exc
        if not isinstance(parsed, dict):
            raise _fail(field, "geometry_malformed", "GeoJSON geometry must be an object.")
        return parsed
    if match := _WKT_POINT.match(stripped):
        return {"type": "Point", "coordinates": [Decimal(match[1]), Decimal(match[2])]}
    if match := _WKT_POLYGON.match(stripped):
        rings = []
        for ring_text in _WKT_RING.findall(match[1]):
            ring = []
            for pair in ring_text.split(","):
                parts = pair.split()
                if len(parts) != 2:
                    raise _fail(
                        field, "geometry_malformed", f"WKT position '{pair.strip()}' needs two numbers."
                    )
                try:
                    ring.append([Decimal(parts[0]), Decimal(parts[1])])
                except InvalidOperation as exc:
                    raise _fail(field, "geometry_malformed", f"'{pair.strip()}' is not a position.") from exc
            rings.append(ring)
        return {"type": "Polygon", "coordinates": rings}
    raise _fail(field, "geometry_malformed", "Geometry must be GeoJSON or WKT POINT/POLYGON.")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def _position(value: Any, field: str) -> Position:
    # RFC 7946 allows an altitude after longitude and latitude (GPS and KML exports carry one);
    # the EUDR geolocation is two-dimensional, so it is accepted and not kept.
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _fail(field, "geometry_malformed", "A position is [longitude, latitude] (RFC 7946).")
    numbers = [_decimal(v) for v in value]
    if any(n is None or not n.is_finite() for n in numbers):
        raise _fail(field, "geometry_malformed", "Longitude and latitude must be numbers.")
    return [n for n in numbers[:2] if n is not None]


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_positions(positions: list[Position], field: str) -> None:
    precise = 0
    for lon, lat in positions:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise _fail(
                f"{field}.coordinates",
                "coordinate_out_of_range",
                f"[{lon}, {lat}] is not a WGS84 [longitude, latitude] position.",
            )
        if min(_decimals(lon), _decimals(lat)) < MIN_DECIMALS_EACH:
            raise _precision(field, lon, lat)
        precise += (_decimals(lon) >= MIN_DECIMALS) + (_decimals(lat) >= MIN_DECIMALS)
    # A genuine six-decimal survey shows six digits in nine coordinates out of ten.
    if 2 * precise < 2 * len(positions) * PRECISE_SHARE:
        lon, lat = positions[0]
        raise _precision(field, lon, lat)


def _precision(field: str, lon: Decimal, lat: Decimal) -> ValidationFailed:
    return _fail(
        f"{field}.coordinates",
        "coordinate_precision",
        f"Coordinates need {MIN_DECIMALS} decimal digits (EUDR); [{lon}, {lat}] is less precise.",
    )


def _polygon_rings(coordinates: Any, field: str) -> list[list[Position]]:
    if not isinstance(coordinates, list) or not coordinates:
        raise _fail(field, "geometry_malformed", "A Polygon's coordinates are a list of linear rings.")
    rings = []
    for ring in coordinates:
        if not isinstance(ring, list):
            raise _fail(field, "geometry_malformed", "A linear ring is a list of positions.")
        rings.append([_position(p, f"{field}.coordinates") for p in ring])
    return rings


def validate_plot_geometry(
    geometry: Any, *, area_ha: Decimal | None, field: str = "geometry"
) -> PlotGeometry:
    """Check a GeoJSON Point or Polygon against every EUDR rule and compute its area."""
    if not isinstance(geometry, dict):
        raise _fail(field, "geometry_malformed", "Geometry must be a GeoJSON object.")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Point":
        position = _position(coordinates, f"{field}.coordinates")
        _check_positions([position], field)
        if area_ha is None:
            raise _fail(
                "area_ha",
                "point_area_required",
                "A plot given as a point needs its declared area_ha (EUDR: area is mandatory for points).",
            )
        if area_ha <= 0:
            raise _fail("area_ha", "area_not_positive", "area_ha must be greater than zero.")
        if area_ha > POINT_MAX_HA:
            raise _fail(
                field,
                "point_plot_over_4ha",
                f"A plot of {area_ha} ha is over 4 ha and must be a polygon, not a point (EUDR).",
            )
        shp: Point | Polygon = Point(float(position[0]), float(position[1]))
        area = area_ha.quantize(AREA_QUANTUM)
        if area <= 0:
            raise _fail("area_ha", "area_not_positive", f"area_ha {area_ha} rounds to 0 ha.")
        normalized: dict[str, Any] = {"type": "Point", "coordinates": position}
    elif kind == "Polygon":
        rings = _polygon_rings(coordinates, field)
        _check_positions([p for ring in rings for p in ring], field)
        for index, ring in enumerate(rings):
            if len(ring) < 4:
                raise _fail(
                    f"{field}.coordinates",
                    "polygon_too_few_positions",
                    f"Ring {index} has {len(ring)} positions; a closed ring needs at least 4.",
                )
            if ring[0] != ring[-1]:
                raise _fail(
                    f"{field}.coordinates",
                    "polygon_ring_unclosed",
                    f"Ring {index} is not closed: its first and last positions differ.",
                )
        shp = Polygon(
            [(float(x), float(y)) for x, y in rings[0]],
            [[(float(x), float(y)) for x, y in ring] for ring in rings[1:]],
        )
        if not shp.is_valid:
            raise _fail(
                f"{field}.coordinates",
                "polygon_self_intersecting",
                f"The polygon is not simple: {explain_validity(shp)}.",
            )
        # pyproj adds the rings' signed areas, so holes must wind against the shell (RFC 7946 only
        # recommends it): orient first, or a hole drawn like its shell would add to the area.
        geodesic, _perimeter = _geod().geometry_area_perimeter(orient(shp, sign=1.0))
        area = (Decimal(abs(geodesic)) / Decimal(10_000)).quantize(AREA_QUANTUM)
        if area <= 0:
            raise _fail(f"{field}.coordinates", "area_not_positive", "The polygon encloses no area.")
        normalized = {"type": "Polygon", "coordinates": rings}
    else:
        raise _fail(
            f"{field}.type",
            "geometry_type_unsupported",
            f"A plot is a GeoJSON Point or Polygon, not {kind!r}.",
        )
    if not peru().covers(shp):
        raise _fail(f"{field}.coordinates", "outside_peru", "The plot's coordinates are not in Peru.")
    centroid = shp.centroid
    return PlotGeometry(
        type=kind,
        geojson=dump_geojson(normalized),
        area_ha=area,
        centroid_lon=centroid.x,
        centroid_lat=centroid.y,
    )


def dump_geojson(geometry: dict[str, Any]) -> str:
    """Serialise a Point or Polygon with each coordinate written as the digits received."""

    def coordinates(value: Any) -> str:
        if isinstance(value, list):
            return "[" + ",".join(coordinates(v) for v in value) + "]"
        return format(value, "f")

    return (
        json.dumps({"type": geometry["type"]}, separators=(",", ":"))[:-1]
        + f',"coordinates":{coordinates(geometry["coordinates"])}}}'
    )


def load_geojson(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return loaded
