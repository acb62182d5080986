"""The page's words in Spanish (first) and English, and how a request picks one."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Final

LANGUAGES: Final = ("es", "en")

MONTHS: Final = {
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

WORDS: Final[dict[str, dict[str, str]]] = {
    "es": {
        "title": "Origen del lote",
        "lot": "Lote",
        "cooperative": "Cooperativa",
        "cooperatives": "Cooperativas",
        "origin": "Origen",
        "farmers": "familias productoras",
        "plots": "parcelas",
        "deliveries": "entregas",
        "harvest": "Cosecha",
        "districts": "Distritos de origen, por peso",
        "map_title": "Mapa del Perú con los distritos de origen del lote",
        "named_farmers": "Productores que aceptaron ser nombrados",
        "journey": "Recorrido",
        "quality": "Calidad",
        "moisture": "Humedad",
        "cupping": "Puntaje de taza",
        "well_fermented": "Bien fermentados (prueba de corte)",
        "grade": "Grado",
        "claims": "Certificaciones y verificaciones",
        "organic": "Orgánico",
        "coca_free": "Libre de coca",
        "deforestation_free": "Libre de deforestación (después de 2020)",
        "claims_unavailable": "Temporalmente no disponible: el servicio de certificación no respondió. "
        "Vuelva a intentarlo en unos minutos.",
        "updated": "Última actualización",
        "peru": "Perú",
        "of": "de",
        "to": "al",
        "kg": "kg",
        "json": "Datos (JSON)",
        "links": "Enlaces GS1",
        "other_language": "English",
        "not_found_title": "Lote no encontrado",
        "not_found": "No encontramos un lote con el código {code}. Revise el código impreso en el saco.",
        "privacy": (
            "Sin datos personales: ningún DNI, ningún nombre sin consentimiento, "
            "ninguna ubicación más precisa que el distrito."
        ),
        "status_verified": "Verificado",
        "status_not_verified": "No verificado",
        "status_failed": "No cumple",
        "status_unavailable": "No disponible",
        "map": "Regiones de origen en el Perú",
        "certificate": "Certificado",
        "valid": "vigente del",
        "verifications": "verificaciones",
        "organic_none": "Orgánico",
        "explain_organic_verified": "Todas las parcelas de origen están cubiertas por este certificado en su "
        "fecha de cosecha y terminaron su conversión.",
        "explain_organic_not_verified": "No todas las parcelas de origen están cubiertas por un certificado "
        "vigente en su fecha de cosecha, o alguna aún está en conversión.",
        "explain_organic_failed": "Un certificado del que depende este lote está suspendido o retirado.",
        "explain_coca_free_verified": "Cada parcela de origen tiene una verificación libre de coca reciente "
        "y ningún cultivo de coca observado después la toca.",
        "explain_coca_free_not_verified": "Falta una verificación reciente libre de coca de alguna "
        "parcela de origen.",
        "explain_coca_free_failed": "Una verificación o una observación de cultivos de coca afecta a una "
        "parcela de origen.",
        "explain_deforestation_free_verified": "Ninguna parcela de origen toca una pérdida de bosque "
        "posterior al 31-12-2020 ni un área protegida.",
        "explain_deforestation_free_not_verified": "No hay verificación ni monitoreo de bosque que cubra "
        "todas las parcelas de origen.",
        "explain_deforestation_free_failed": "Una parcela de origen toca una pérdida de bosque posterior a "
        "2020 o un área protegida.",
    },
    "en": {
        "title": "Lot origin",
        "lot": "Lot",
        "cooperative": "Cooperative",
        "cooperatives": "Cooperatives",
        "origin": "Origin",
        "farmers": "farming families",
        "plots": "plots",
        "deliveries": "deliveries",
        "harvest": "Harvest",
        "districts": "Districts of origin, by weight",
        "map_title": "Map of Peru with the lot's districts of origin",
        "named_farmers": "Farmers who agreed to be named",
        "journey": "Journey",
        "quality": "Quality",
        "moisture": "Moisture",
        "cupping": "Cupping score",
        "well_fermented": "Well fermented (cut test)",
        "grade": "Grade",
        "claims": "Certifications and verifications",
        "organic": "Organic",
        "coca_free": "Coca-free",
        "deforestation_free": "Deforestation-free (after 2020)",
        "claims_unavailable": "Temporarily unavailable: the certification service did not answer. "
        "Please try again in a few minutes.",
        "updated": "Last updated",
        "peru": "Peru",
        "of": "of",
        "to": "to",
        "kg": "kg",
        "json": "Data (JSON)",
        "links": "GS1 links",
        "other_language": "Español",
        "not_found_title": "Lot not found",
        "not_found": "We found no lot with code {code}. Please check the code printed on the bag.",
        "privacy": (
            "No personal data: no national ids, no names without consent, "
            "no place more precise than the district."
        ),
        "status_verified": "Verified",
        "status_not_verified": "Not verified",
        "status_failed": "Does not comply",
        "status_unavailable": "Unavailable",
        "map": "Regions of origin in Peru",
        "certificate": "Certificate",
        "valid": "valid from",
        "verifications": "verifications",
        "organic_none": "Organic",
        "explain_organic_verified": "Every plot of origin is covered by this certificate on its harvest "
        "date and had finished conversion.",
        "explain_organic_not_verified": "Not every plot of origin is covered by a valid certificate on its "
        "harvest date, or one is still in conversion.",
        "explain_organic_failed": "A certificate this lot rests on is suspended or withdrawn.",
        "explain_coca_free_verified": "Every plot of origin has a recent coca-free verification and no "
        "coca cultivation observed since touches it.",
        "explain_coca_free_not_verified": "A recent coca-free verification of some plot of origin is "
        "missing.",
        "explain_coca_free_failed": "A verification or an observation of coca cultivation concerns a plot "
        "of origin.",
        "explain_deforestation_free_verified": "No plot of origin touches forest loss after 31-12-2020 or a "
        "protected area.",
        "explain_deforestation_free_not_verified": "No verification or forest monitoring covers every plot "
        "of origin.",
        "explain_deforestation_free_failed": "A plot of origin touches forest loss after 2020 or a "
        "protected area.",
    },
}

PRODUCTS: Final = {
    "es": {"cacao": "Cacao", "coffee": "Café"},
    "en": {"cacao": "Cocoa", "coffee": "Coffee"},
}
FORMS: Final = {
    "es": {
        "baba": "cacao en baba (fresco)",
        "fermented": "cacao fermentado",
        "dry": "cacao en grano seco",
        "cherry": "café cereza",
        "parchment": "café pergamino",
        "green": "café verde (oro)",
    },
    "en": {
        "baba": "wet cocoa beans (baba)",
        "fermented": "fermented cocoa beans",
        "dry": "dried cocoa beans",
        "cherry": "coffee cherry",
        "parchment": "parchment coffee",
        "green": "green coffee",
    },
}
STAGES: Final = {
    "es": {
        "delivery": "Entrega de las familias (acopio)",
        "fermentation": "Fermentación",
        "drying": "Secado",
        "hulling": "Pilado",
        "sorting": "Selección",
        "merge": "Mezcla de lotes",
        "split": "Ensacado",
        "quality": "Control de calidad",
        "storage": "Almacén",
        "handover": "Entrega al exportador",
        "shipment": "Embarque",
        "fair": "Feria",
    },
    "en": {
        "delivery": "Delivered by the farming families",
        "fermentation": "Fermentation",
        "drying": "Drying",
        "hulling": "Hulling",
        "sorting": "Sorting",
        "merge": "Lots merged",
        "split": "Bagged",
        "quality": "Quality control",
        "storage": "Storage",
        "handover": "Handed to the exporter",
        "shipment": "Shipment",
        "fair": "Trade fair",
    },
}


STANDARDS: Final = {
    "es": {
        "EU_2018_848": "Orgánico UE 2018/848",
        "USDA_NOP": "Orgánico USDA NOP",
        "JAS": "Orgánico JAS",
        "FAIRTRADE": "Fairtrade",
        "RAINFOREST_ALLIANCE": "Rainforest Alliance",
    },
    "en": {
        "EU_2018_848": "Organic EU 2018/848",
        "USDA_NOP": "Organic USDA NOP",
        "JAS": "Organic JAS",
        "FAIRTRADE": "Fairtrade",
        "RAINFOREST_ALLIANCE": "Rainforest Alliance",
    },
}
METHODS: Final = {
    "es": {"field_visit": "visita de campo", "satellite": "satélite", "document": "documentos"},
    "en": {"field_visit": "field visit", "satellite": "satellite", "document": "documents"},
}


@lru_cache(maxsize=1024)  # a burst asks it on every page view; browsers send a few distinct headers
def pick_language(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the best of ``Accept-Language`` we speak, else Spanish."""
    if asked in LANGUAGES:
        return str(asked)
    if not accept_language:
        return "es"
    return _best_accepted(accept_language)


@lru_cache(maxsize=256)
def _best_accepted(accept_language: str) -> str:
    """Phones send a handful of distinct headers: each is read once, not at every scan."""
    best: tuple[float, str] | None = None
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        if language not in LANGUAGES:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, language)
    return best[1] if best else "es"


def format_date(value: date | datetime, language: str) -> str:
    month = MONTHS[language][value.month - 1]
    return f"{value.day} {month} {value.year}" if language == "es" else f"{month} {value.day}, {value.year}"
