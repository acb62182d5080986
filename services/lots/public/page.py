"""The public provenance page: server-rendered HTML, no JavaScript, nothing fetched from elsewhere."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.lots.public.cache import Entry
from services.lots.public.i18n import (
    FORMS,
    LANGUAGES,
    METHODS,
    PRODUCTS,
    STAGES,
    STANDARDS,
    WORDS,
    format_date,
)
from services.lots.public.schemas import PublicClaim, PublicLot

TEMPLATES = Path(__file__).parent / "templates"
SCHEMA_CATEGORY = {"cacao": "Cocoa beans (HS 1801)", "coffee": "Coffee (HS 0901)"}


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _json_ld(lot: PublicLot, language: str) -> str:
    """schema.org Product. ``<``, ``>`` and ``&`` are written as JSON escapes: inside a script element
    a ``<!--<script>`` in a name would otherwise switch the HTML parser into a state where the
    element's own ``</script>`` no longer closes it, and the rest of the page disappears."""
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": f"{PRODUCTS[language][lot.product.value]} — {FORMS[language][lot.form.value]}",
        "category": SCHEMA_CATEGORY[lot.product.value],
        "sku": lot.code,
        "url": lot.digital_link,
        "countryOfOrigin": {"@type": "Country", "name": "Peru", "identifier": "PE"},
        "weight": {"@type": "QuantitativeValue", "value": float(lot.quantity_kg), "unitCode": "KGM"},
        "productionDate": lot.origin.harvested_from.isoformat(),
        "manufacturer": [
            {
                "@type": "Organization",
                "name": c.name,
                "address": {
                    "@type": "PostalAddress",
                    "addressRegion": c.region,
                    "addressLocality": c.district,
                    "addressCountry": "PE",
                },
            }
            for c in lot.cooperatives
        ],
    }
    if lot.gtin:
        document["gtin14"] = lot.gtin
    text = json.dumps(document, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


MAP_WIDTH = 240  # drawing units; the page scales the SVG to at most 15rem wide


@dataclass(frozen=True)
class MapPoint:
    x: int
    y: int
    r: float
    name: str
    share_pct: Decimal


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    path: str
    points: list[MapPoint]


def drawing(lot: PublicLot) -> Drawing | None:
    """Peru's outline and a dot per district of origin (larger for a larger share), projected to
    whole pixels: an equirectangular projection true at Peru's middle latitude, fine at this scale."""
    coarse = lot.origin.map
    if coarse is None or not coarse.outline:
        return None
    lons = [lon for lon, _ in coarse.outline]
    lats = [lat for _, lat in coarse.outline]
    west, north = min(lons), max(lats)
    stretch = math.cos(math.radians((min(lats) + north) / 2))
    scale = MAP_WIDTH / ((max(lons) - west) * stretch)

    def at(lon: float, lat: float) -> tuple[int, int]:
        return round((lon - west) * stretch * scale), round((north - lat) * scale)

    path = "M" + " L".join("{},{}".format(*at(lon, lat)) for lon, lat in coarse.outline) + " Z"
    places = {place.ubigeo: place for place in coarse.places}
    points = []
    for district in lot.origin.districts:
        place = places.get(district.ubigeo or "")
        if place is not None:
            x, y = at(place.lon, place.lat)
            radius = round(3 + 6 * math.sqrt(float(district.share_pct) / 100), 1)
            points.append(MapPoint(x, y, radius, district.district or "", district.share_pct))
    height = round((north - min(lats)) * scale)
    return Drawing(MAP_WIDTH, height, path, points)


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def organic_shown(organic: dict[str, PublicClaim]) -> list[tuple[str, PublicClaim]]:
    """The standards worth a buyer's line: those verified, and those failed (a suspension); the rest
    of the five are only "not verified" and are summed up in one line."""
    return [(standard, claim) for standard, claim in organic.items() if claim.status != "not_verified"]


def render_lot(lot: PublicLot, language: str, *, json_url: str, linkset_url: str | None) -> str:
    other = next(lang for lang in LANGUAGES if lang != language)
    words = WORDS[language]

    def pct(value: Decimal) -> str:
        shown = value.quantize(Decimal("0.1"))
        text = _number(shown)
        return f"{text.replace('.', ',') if language == 'es' else text} %"

    def kg(value: Decimal) -> str:
        text = f"{value:,.1f}" if value >= 1000 else _number(value)
        return text.replace(",", " ").replace(".", ",") if language == "es" else text

    return (
        environment()
        .get_template("lot.html")
        .render(
            lot=lot,
            lang=language,
            other_lang=other,
            w=words,
            product_name=PRODUCTS[language][lot.product.value],
            form_name=FORMS[language][lot.form.value],
            cooperative_names=", ".join(c.name for c in lot.cooperatives),
            json_url=json_url,
            linkset_url=linkset_url,
            json_ld=_json_ld(lot, language),
            date=lambda value: format_date(value, language),
            stage=lambda name: STAGES[language][name],
            status=lambda name: words[f"status_{name}"],
            pct=pct,
            kg=kg,
            organic_shown=organic_shown,
            standard_name=lambda code: STANDARDS[language].get(code, code),
            methods=lambda names: ", ".join(METHODS[language].get(n, n) for n in names),
            drawing=drawing(lot),
        )
    )


def render_into(entry: Entry, language: str) -> bytes:
    """The entry's page in ``language``, rendered and kept in it (plain and gzip)."""
    lot = entry.lot
    # Same-origin paths: the page names no other host, not even the configured public origin.
    page = render_lot(
        lot,
        language,
        json_url=f"/api/v1/public/lots/{lot.code}",
        linkset_url=f"/01/{lot.gtin}/10/{lot.code}?linkType=all" if lot.gtin else None,
    ).encode()
    entry.add_page(language, page)
    return page


def render_not_found(code: str) -> str:
    return environment().get_template("not_found.html").render(code=code, es=WORDS["es"], en=WORDS["en"])
