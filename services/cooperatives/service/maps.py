"""The coarse map of Peru the public side may show: an outline and district places, to 0.1°."""

from __future__ import annotations

from collections.abc import Sequence

from services.cooperatives.reference import coarse_outline, coarse_place, districts
from services.cooperatives.schemas import CoarseMap, CoarsePlace
from shared.errors import ValidationFailed

# A lot's page shows the districts it comes from: tens, rarely more.
MAX_MAP_UBIGEOS = 200


def coarse_map(ubigeos: Sequence[str]) -> CoarseMap:
    """Peru's outline and the named place of each district asked, both to 0.1° (public)."""
    if len(ubigeos) > MAX_MAP_UBIGEOS:
        detail = f"At most {MAX_MAP_UBIGEOS} districts in one map; {len(ubigeos)} were asked."
        raise ValidationFailed.single("ubigeo", "too_many", detail)
    known = districts()
    for ubigeo in ubigeos:
        if ubigeo not in known:
            detail = f"{ubigeo} is not an INEI district ubigeo."
            raise ValidationFailed.single("ubigeo", "unknown_ubigeo", detail)
    places = []
    for ubigeo in dict.fromkeys(ubigeos):
        place = coarse_place(ubigeo)
        if place is not None:
            places.append(CoarsePlace(ubigeo=ubigeo, lon=place[0], lat=place[1]))
    return CoarseMap(outline=list(coarse_outline()), places=places)
