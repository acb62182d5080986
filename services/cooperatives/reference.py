"""Reference data shipped with the registry: INEI ubigeo districts and Peru's outline."""

from __future__ import annotations

import csv
import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

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
    """Ubigeo → (longitude, latitude) of the populated place that names the district, where known."""
    rows = csv.DictReader(_data("district_places.csv").splitlines())
    return {r["ubigeo"]: (float(r["longitude"]), float(r["latitude"])) for r in rows}


@cache
def peru_outline() -> BaseGeometry:
    feature = json.loads(_data("peru.geojson"))
    return shape(feature["geometry"]).buffer(PERU_TOLERANCE_DEGREES)


@cache
def peru() -> PreparedGeometry:
    return prep(peru_outline())
