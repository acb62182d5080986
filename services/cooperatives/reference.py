"""Reference data shipped with the registry: INEI ubigeo districts and Peru's outline."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from shapely import STRtree, points
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

# Natural Earth at 1:10m is accurate to roughly a kilometre, and the shipped outline is simplified
# further; plots on the border must not be refused because of the outline's generalisation. Near
# the Zarumilla (Tumbes) the outline is ~2.8 km off: Matapalo (240303) lies 0.025° outside it.
PERU_TOLERANCE_DEGREES = 0.03


@dataclass(frozen=True, slots=True)
class District:
    ubigeo: str
    region: str
    province: str
    district: str


def fold(text: str) -> str:
    """Lower-case, accent-free: how people type place names into a search box."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _data(name: str) -> str:
    return resources.files("services.cooperatives").joinpath("data", name).read_text(encoding="utf-8")


@cache
def districts() -> dict[str, District]:
    rows = csv.DictReader(_data("ubigeo.csv").splitlines())
    return {r["ubigeo"]: District(r["ubigeo"], r["department"], r["province"], r["district"]) for r in rows}


@cache
def regions() -> dict[str, str]:
    """Department code → name, e.g. ``"22"`` → ``"San Martín"``."""
    return {code[:2]: d.region for code, d in districts().items()}


@cache
def district_places() -> dict[str, tuple[float, float]]:
    """Ubigeo → (longitude, latitude) of the populated place that names the district, where known.

    It places the demo's plots and stands for the district when a plot's district is derived.
    """
    rows = csv.DictReader(_data("district_places.csv").splitlines())
    return {r["ubigeo"]: (float(r["longitude"]), float(r["latitude"])) for r in rows}


@cache
def _place_index() -> tuple[STRtree, tuple[str, ...]]:
    """A tree of the districts' named places, and the ubigeo of each of its points."""
    by_place: dict[tuple[float, float], str] = {}
    # A few districts share a name with another and so got the same GeoNames place (two Huallanca,
    # two San Luis…): the place stands for the lower ubigeo, so the answer never depends on order.
    for code, place in sorted(district_places().items()):
        by_place.setdefault(place, code)
    return STRtree(points(list(by_place))), tuple(by_place.values())


def nearest_districts(lons: Sequence[float], lats: Sequence[float]) -> list[District]:
    """For each (longitude, latitude), the district whose named populated place is nearest.

    Only an approximation of the district a point lies in: INEI's boundaries are not shipped, the
    place is a town rather than the district's middle, and only the districts whose place is known
    (about 1,070 of 1,873) can be the answer, so a point near a border may get the neighbour.
    Distances are planar in degrees: at Peru's latitudes (0 to 18.4° S) a degree of longitude is
    95 to 100 % of a degree of latitude, far less than the error of the method itself.
    """
    if len(lons) != len(lats):
        raise ValueError("as many longitudes as latitudes")
    if not len(lons):
        return []
    tree, codes = _place_index()
    # One vectorised query for the whole batch: an import of 100,000 plots must not loop in Python.
    asked, found = tree.query_nearest(points(list(lons), list(lats)), all_matches=False).tolist()
    if len(asked) != len(lons):
        raise ValueError("every longitude and latitude must be a finite number")
    table = districts()
    # Pairs come back as (position asked, point found); shapely does not promise the input's order.
    nearest = dict(zip(asked, found, strict=True))
    return [table[codes[nearest[i]]] for i in range(len(lons))]


def nearest_district(lon: float, lat: float) -> District:
    """The district whose named populated place is nearest to (lon, lat); see ``nearest_districts``."""
    return nearest_districts([lon], [lat])[0]


@cache
def peru_outline() -> BaseGeometry:
    feature = json.loads(_data("peru.geojson"))
    return shape(feature["geometry"]).buffer(PERU_TOLERANCE_DEGREES)


@cache
def peru() -> PreparedGeometry:
    return prep(peru_outline())


# The public map's scale: 0.1° (~11 km), the finest the public side may show (issue 5, privacy).
MAP_DECIMALS = 1


@cache
def coarse_outline() -> tuple[tuple[float, float], ...]:
    """Peru's mainland outline simplified to ~0.1°, each vertex rounded to 0.1°: a drawing, not data."""
    feature = json.loads(_data("peru.geojson"))
    outline = shape(feature["geometry"])
    largest = max(getattr(outline, "geoms", [outline]), key=lambda polygon: polygon.area)
    simplified = largest.simplify(10**-MAP_DECIMALS, preserve_topology=True)
    points: list[tuple[float, float]] = []
    for lon, lat in simplified.exterior.coords:
        point = (round(lon, MAP_DECIMALS), round(lat, MAP_DECIMALS))
        if not points or points[-1] != point:
            points.append(point)
    return tuple(points)


def coarse_place(ubigeo: str) -> tuple[float, float] | None:
    """Where the district's named place is, to 0.1°; None for a district without one."""
    place = district_places().get(ubigeo)
    if place is None:
        return None
    return round(place[0], MAP_DECIMALS), round(place[1], MAP_DECIMALS)
