"""Monitoring-layer geometry: validating GeoJSON features and finding the plots they touch.

Layer features are not plots (no 6-decimal or 4-hectare rule: a satellite alert is as precise as
its pixels), but their rings must be sound, or ``intersects`` answers nonsense: a ring must be
closed, have at least four positions and not cross itself — the same rules as a plot's ring.
Overlap is found with shapely's STRtree over every plot at once, never by a pairwise loop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shapely import STRtree
from shapely.errors import GEOSException
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from shared.errors import FieldError, ValidationFailed

FEATURE_TYPES = ("Point", "MultiPoint", "Polygon", "MultiPolygon")
COVERAGE_TYPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, slots=True)
class Feature:
    position: int
    label: str
    geometry: BaseGeometry
    geojson: str
    dated_on: date | None
    name: str | None


def _rings(geometry: dict[str, Any]) -> list[list[Any]]:
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Polygon" and isinstance(coordinates, list):
        return list(coordinates)
    if geometry.get("type") == "MultiPolygon" and isinstance(coordinates, list):
        return [ring for polygon in coordinates if isinstance(polygon, list) for ring in polygon]
    return []


def _positions(geometry: dict[str, Any]) -> list[Any]:
    coordinates = geometry.get("coordinates")
    kind = geometry.get("type")
    if kind == "Point":
        return [coordinates]
    if kind == "MultiPoint" and isinstance(coordinates, list):
        return coordinates
    return [p for ring in _rings(geometry) if isinstance(ring, list) for p in ring]


def geometry_problem(geometry: Any, allowed: Sequence[str]) -> tuple[str, str] | None:
    """(code, detail) for the first rule the GeoJSON geometry breaks, or ``None``."""
    if not isinstance(geometry, dict) or geometry.get("type") not in allowed:
        return "geometry_type", f"The geometry must be a GeoJSON {', '.join(allowed)}."
    for position in _positions(geometry):
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position[:2])
        ):
            return "coordinates_invalid", "Every position must be [longitude, latitude] numbers."
        if not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
            return "coordinates_out_of_range", f"The position {position[:2]} is not WGS84 [lon, lat]."
    for ring in _rings(geometry):
        if not isinstance(ring, list) or len(ring) < 4:
            return "ring_too_short", "A ring needs at least four positions (closed)."
        if ring[0] != ring[-1]:
            return "ring_not_closed", "A ring must end at the position it starts from."
    try:
        parsed = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, GEOSException) as exc:
        return "geometry_invalid", f"The geometry cannot be read: {exc}."
    if parsed.is_empty:
        return "geometry_empty", "The geometry is empty."
    if not parsed.is_valid:
        return "ring_self_intersects", f"The geometry is not valid: {explain_validity(parsed)}."
    return None


def _date_property(properties: dict[str, Any], name: str) -> date | None:
    value = properties.get(name)
    if value is None:
        return None
    return date.fromisoformat(str(value))


def parse_features(collection: dict[str, Any], *, kind: str, observed_on: date) -> list[Feature]:
    """Every feature of a layer, or a 422 naming each broken one (nothing is stored then)."""
    if collection.get("type") != "FeatureCollection" or not isinstance(collection.get("features"), list):
        raise ValidationFailed.single(
            "features", "feature_collection_expected", "features must be a GeoJSON FeatureCollection."
        )
    errors: list[FieldError] = []
    parsed: list[Feature] = []
    for position, raw in enumerate(collection["features"]):
        field = f"features.features.{position}"
        label = str(raw.get("id")) if isinstance(raw, dict) and raw.get("id") is not None else f"#{position}"
        properties = raw.get("properties") if isinstance(raw, dict) else None
        properties = properties if isinstance(properties, dict) else {}
        problem = geometry_problem(raw.get("geometry") if isinstance(raw, dict) else None, FEATURE_TYPES)
        if problem is not None:
            code, detail = problem
            errors.append(
                FieldError(field=f"{field}.geometry", code=code, detail=f"Feature {label}: {detail}")
            )
            continue
        try:
            dated_on = _feature_date(kind, properties, observed_on)
        except ValueError:
            errors.append(
                FieldError(
                    field=f"{field}.properties",
                    code="date_invalid",
                    detail=f"Feature {label}: its date is not an ISO 8601 date (YYYY-MM-DD).",
                )
            )
            continue
        if kind == "forest_loss" and dated_on is None:
            errors.append(
                FieldError(
                    field=f"{field}.properties.loss_date",
                    code="loss_date_missing",
                    detail=f"Feature {label}: a forest-loss feature needs its loss_date.",
                )
            )
            continue
        geometry = shape(raw["geometry"])
        name = properties.get("name")
        parsed.append(
            Feature(
                position,
                label[:200],
                geometry,
                json.dumps(raw["geometry"], separators=(",", ":")),
                dated_on,
                str(name)[:200] if name is not None else None,
            )
        )
    if errors:
        detail = "; ".join(e.detail for e in errors[:5]) + (" …" if len(errors) > 5 else "")
        raise ValidationFailed(f"The layer has invalid features: {detail}", errors=errors[:1000])
    if not parsed:
        raise ValidationFailed.single("features", "layer_empty", "The layer has no features.")
    return parsed


def _feature_date(kind: str, properties: dict[str, Any], observed_on: date) -> date | None:
    if kind == "coca":
        return _date_property(properties, "observed_on") or observed_on
    if kind == "forest_loss":
        return _date_property(properties, "loss_date")
    return None


def parse_coverage(coverage: dict[str, Any] | None, features: Sequence[Feature]) -> BaseGeometry:
    """The area a layer covers: as given, else the bounding box of its features."""
    if coverage is None:
        min_x = min(f.geometry.bounds[0] for f in features)
        min_y = min(f.geometry.bounds[1] for f in features)
        max_x = max(f.geometry.bounds[2] for f in features)
        max_y = max(f.geometry.bounds[3] for f in features)
        return box(min_x, min_y, max_x, max_y)
    problem = geometry_problem(coverage, COVERAGE_TYPES)
    if problem is not None:
        raise ValidationFailed.single("coverage", problem[0], f"coverage: {problem[1]}")
    return shape(coverage)


def to_geojson(geometry: BaseGeometry) -> str:
    return json.dumps(mapping(geometry), separators=(",", ":"))


def read_geometry(text: str) -> BaseGeometry:
    return shape(json.loads(text))


def intersecting_pairs(
    plots: Sequence[BaseGeometry], features: Sequence[BaseGeometry]
) -> list[tuple[int, int]]:
    """(feature index, plot index) of every feature that touches a plot: one STRtree query for all."""
    if not plots or not features:
        return []
    tree = STRtree(list(plots))
    found = tree.query(list(features), predicate="intersects")
    return [(int(f), int(p)) for f, p in zip(found[0], found[1], strict=True)]
