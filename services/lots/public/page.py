"""The public provenance page: server-rendered HTML, no JavaScript, nothing fetched from elsewhere."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.lots.public.i18n import FORMS, LANGUAGES, PRODUCTS, STAGES, WORDS, format_date
from services.lots.public.schemas import PublicLot

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
    """schema.org Product; ``</`` escaped so no value can close the script element."""
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
    return json.dumps(document, ensure_ascii=False).replace("</", "<\\/")


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


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
        )
    )


def render_not_found(code: str) -> str:
    return environment().get_template("not_found.html").render(code=code, es=WORDS["es"], en=WORDS["en"])
