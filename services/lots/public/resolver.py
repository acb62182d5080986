"""The GS1 Digital Link resolver (STANDARDS.md): a lot's links, and which one a request asks for.

``/01/{gtin14}/10/{lot}`` answers 307 to the default link (the product information page,
``gs1:pip``); ``?linkType=`` picks another; ``?linkType=all`` or ``Accept: application/linkset+json``
answers the RFC 9264 linkset of them all. ``/01/{gtin14}/10/{lot}/21/{serial}`` falls back to the
lot's links (a bag's serial is not an item of its own here). Digital Link URIs are parsed by
``biip``, which checks the GTIN's check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.errors import BadRequest, NotFound

LINKSET_MEDIA_TYPE = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
DEFAULT_LINK_TYPE = "gs1:pip"


@dataclass(frozen=True, slots=True)
class Link:
    link_type: str  # compact form, e.g. "gs1:pip"
    href: str
    title: str
    media_type: str
    languages: tuple[str, ...] = ()

    @property
    def relation(self) -> str:
        return GS1_VOC + self.link_type.removeprefix("gs1:")


@dataclass(frozen=True, slots=True)
class ItemKey:
    gtin: str
    lot: str


def parse_item(uri: str) -> ItemKey:
    """GTIN and lot of a Digital Link URI's path; a bad check digit or a malformed path is a 400.

    Only the path identifies the item: biip also reads the query's attributes as elements, and a
    ``?10=XYZ`` would otherwise replace the path's lot.
    """
    # Imported at the first Digital Link asked, not with the service: biip unpacks GS1's table of
    # company prefixes when imported (16 MB), and a scan burst on /l/ pages never needs it.
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    path_only = urlsplit(uri)._replace(query="", fragment="").geturl()
    try:
        parsed = GS1DigitalLinkURI.parse(path_only)
    except ParseError as exc:
        raise BadRequest(f"Not a GS1 Digital Link URI: {exc}", code="invalid_digital_link") from exc
    values = {element.ai.ai: element for element in parsed.element_strings}
    gtin_element = values.get("01")
    if gtin_element is None or "10" not in values:
        raise NotFound(
            "This resolver knows items by GTIN and lot (/01/{gtin}/10/{lot}).", code="item_not_found"
        )
    if gtin_element.gtin is None:
        raise BadRequest(f"Invalid GTIN {gtin_element.value}: {gtin_element.gtin_error}", code="invalid_gtin")
    return ItemKey(gtin=gtin_element.gtin.as_gtin_14(), lot=values["10"].value)


def lot_links(*, base_url: str, code: str, lot_id: str) -> list[Link]:
    base = base_url.rstrip("/")
    return [
        Link(
            "gs1:pip",
            f"{base}/l/{code}",
            "Origen y trazabilidad / Origin and traceability",
            "text/html",
            ("es", "en"),
        ),
        Link(
            "gs1:traceability",
            f"{base}/api/v1/public/lots/{code}",
            "Provenance as JSON",
            "application/json",
        ),
        Link(
            "gs1:certificationInfo",
            f"{base}/api/v1/claims/lots/{lot_id}",
            "Organic, coca-free and deforestation-free claims",
            "application/json",
        ),
        Link(
            "gs1:epcis",
            f"{base}/api/v1/lots/{lot_id}/events?format=epcis",
            "EPCIS 2.0 events (authorised trading partners)",
            "application/ld+json",
        ),
    ]


def choose(links: list[Link], link_type: str | None) -> Link | None:
    """The link asked for; the default without ``linkType``; None when the lot has no such link."""
    wanted = link_type or DEFAULT_LINK_TYPE
    if wanted.startswith(GS1_VOC):
        wanted = "gs1:" + wanted.removeprefix(GS1_VOC)
    if wanted == "gs1:defaultLink":
        wanted = DEFAULT_LINK_TYPE
    return next((link for link in links if link.link_type == wanted), None)


def linkset(anchor: str, links: list[Link]) -> dict[str, Any]:
    """RFC 9264 JSON linkset: one context object, relation types as GS1 vocabulary URIs."""
    context: dict[str, Any] = {"anchor": anchor}
    default = choose(links, None)
    for link in links:
        target: dict[str, Any] = {"href": link.href, "title": link.title, "type": link.media_type}
        if link.languages:
            target["hreflang"] = list(link.languages)
        context.setdefault(link.relation, []).append(target)
        if link is default:
            context[GS1_VOC + "defaultLink"] = [target]
    return {"linkset": [context]}


LINK_TYPES = ("pip", "traceability", "certificationInfo", "epcis")


def description(base_url: str) -> dict[str, Any]:
    """``/.well-known/gs1resolver``: GS1-Conformant Resolver description file (schema
    https://ref.gs1.org/standards/resolver/description-file-schema).

    Primary keys are named by their AI (``"01"`` for the GTIN) and ``supportedLinkType`` lists the
    namespaces with their CURIE prefixes, as the schema says; the link types this resolver serves
    (and the other fields) are additions the schema allows.
    """
    root = base_url.rstrip("/")
    return {
        "name": "Chacra — cacao and coffee from Peru's Amazon",
        "resolverRoot": root,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "linkTypes": [*(f"gs1:{t}" for t in LINK_TYPES), "gs1:defaultLink"],
        "supportedQualifiers": {"01": ["10", "21"]},
        "supportedContentTypes": ["text/html", "application/json", LINKSET_MEDIA_TYPE],
        "supportedLanguages": ["es", "en"],
        "linksetMediaType": LINKSET_MEDIA_TYPE,
        "example": f"{root}/01/{{gtin14}}/10/{{lot}}?linkType=all",
    }


def _media_ranges(accept: str) -> dict[str, float]:
    """RFC 9110 Accept: each listed media range (lower case) and its weight; a bad ``q`` drops it."""
    ranges: dict[str, float] = {}
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        if not media_range:
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = -1.0
                break
        if 0.0 <= weight <= 1.0:
            key = media_range.lower()
            ranges[key] = max(weight, ranges.get(key, 0.0))
    return ranges


def wants_linkset(accept: str | None, link_type: str | None) -> bool:
    """``linkType=all``, or an Accept header that names the linkset with the highest weight (> 0).

    The linkset must be listed by name: ``*/*`` (every browser) keeps the 307 to the page; a tie
    with another type goes to the linkset, the one answer this resolver gives that asks for it.
    """
    if link_type == "all":
        return True
    ranges = _media_ranges(accept or "")
    weight = ranges.get(LINKSET_MEDIA_TYPE, 0.0)
    return weight > 0.0 and weight >= max(ranges.values())
