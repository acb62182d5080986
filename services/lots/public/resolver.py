"""The GS1 Digital Link resolver (STANDARDS.md): a lot's links, and which one a request asks for.

``/01/{gtin14}/10/{lot}`` answers 307 to the default link (the product information page,
``gs1:pip``); ``?linkType=`` picks another; ``?linkType=all`` or ``Accept: application/linkset+json``
answers the RFC 9264 linkset of them all. Digital Link URIs are parsed by ``biip``, which checks the
GTIN's check digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI

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
    """GTIN and lot of a Digital Link URI; a bad check digit or a malformed path is a 400."""
    try:
        parsed = GS1DigitalLinkURI.parse(uri)
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


def description(base_url: str) -> dict[str, Any]:
    """``/.well-known/gs1resolver``: what this resolver serves (GS1 resolver description file)."""
    root = base_url.rstrip("/")
    return {
        "name": "Chacra — cacao and coffee from Peru's Amazon",
        "resolverRoot": root,
        "supportedPrimaryKeys": ["gtin"],
        "supportedQualifiers": {"gtin": ["10"]},
        "linkTypeDefaultCanBeLinkset": False,
        "supportedLinkType": [
            {"namespace": GS1_VOC, "prefix": "gs1:", "linkType": t}
            for t in ("pip", "traceability", "certificationInfo", "epcis", "defaultLink")
        ],
        "supportedContentTypes": ["text/html", "application/json", LINKSET_MEDIA_TYPE],
        "supportedLanguages": ["es", "en"],
        "linksetMediaType": LINKSET_MEDIA_TYPE,
        "example": f"{root}/01/{{gtin14}}/10/{{lot}}?linkType=all",
    }
