"""Ledger events as EPCIS 2.0 JSON-LD (mapping in STANDARDS.md).

Lots are identified by their Digital Link URI (``https://{host}/01/{gtin}/10/{code}``, or
``https://{host}/l/{code}`` without a GTIN). A corrected event is sent again with an
``errorDeclaration`` — EPCIS's way of saying "this was wrong" without deleting it — and, where the
correction states the right weight, followed by the corrective event it names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from services.lots.codes import digital_link
from services.lots.models import LotEvent

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# Peru keeps UTC−5 all year (no daylight saving time).
PERU_OFFSET = "-05:00"
KGM = "KGM"


@dataclass(frozen=True, slots=True)
class LotKey:
    code: str
    gtin: str | None


class EpcisRenderer:
    def __init__(self, public_base_url: str, lots: Mapping[str, LotKey]) -> None:
        self.base = public_base_url.rstrip("/")
        self.lots = lots

    @property
    def namespace(self) -> str:
        return f"{self.base}/ns/epcis/"

    def lot_uri(self, lot_id: str) -> str:
        key = self.lots[lot_id]
        return digital_link(self.base, key.code, key.gtin)

    def _ref_uri(self, ref: Mapping[str, Any]) -> str:
        return digital_link(self.base, ref["code"], ref.get("gtin"))

    def _quantity(self, ref: Mapping[str, Any]) -> dict[str, Any]:
        return {"epcClass": self._ref_uri(ref), "quantity": float(Decimal(ref["quantity_kg"])), "uom": KGM}

    def _own_quantity(self, event: LotEvent) -> list[dict[str, Any]]:
        return [{"epcClass": self.lot_uri(event.lot_id)}]

    def document(self, events: Sequence[tuple[LotEvent, LotEvent | None]]) -> dict[str, Any]:
        """``events``: each event with the correction that declared it wrong, if any."""
        rendered: list[dict[str, Any]] = []
        for event, correction in events:
            if event.type == "correction":
                continue
            body = self.event(event)
            rendered.append(body)
            if correction is not None:
                rendered.extend(self._declare_error(event, body, correction))
        return {
            "@context": [EPCIS_CONTEXT, {"chacra": self.namespace}],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": _time(datetime.now(UTC)),
            "epcisBody": {"eventList": rendered},
        }

    def _declare_error(
        self, event: LotEvent, body: dict[str, Any], correction: LotEvent
    ) -> list[dict[str, Any]]:
        corrective_ids = [_event_uri(i) for i in correction.data.get("corrective_event_ids", [])]
        extra: list[dict[str, Any]] = []
        if "quantity_kg" in correction.data and correction.data.get("reason") != "did_not_occur":
            # The right weight, stated as an event of its own so the declaration can point at it.
            fixed = dict(body)
            fixed["eventID"] = _event_uri(correction.id)
            fixed["recordTime"] = _time(correction.recorded_at)
            self._set_output_quantity(fixed, Decimal(correction.data["quantity_kg"]))
            corrective_ids.append(fixed["eventID"])
            extra.append(fixed)
        declared = dict(body)
        declared["errorDeclaration"] = {
            "declarationTime": _time(correction.recorded_at),
            "reason": correction.data.get("reason", "incorrect_data"),
            **({"correctiveEventIDs": corrective_ids} if corrective_ids else {}),
            "chacra:explanation": correction.data.get("explanation", ""),
        }
        return [declared, *extra]

    @staticmethod
    def _set_output_quantity(body: dict[str, Any], quantity_kg: Decimal) -> None:
        key = "outputQuantityList" if "outputQuantityList" in body else "quantityList"
        items = [dict(item) for item in body.get(key, [])]
        if items:
            items[0]["quantity"] = float(quantity_kg)
        body[key] = items

    def event(self, event: LotEvent) -> dict[str, Any]:
        common: dict[str, Any] = {
            "eventID": _event_uri(event.id),
            "eventTime": _time(event.event_time),
            "eventTimeZoneOffset": PERU_OFFSET,
            "recordTime": _time(event.recorded_at),
        }
        render = getattr(self, f"_{event.type}")
        body: dict[str, Any] = render(event, event.data)
        return {**{"type": body.pop("type")}, **common, **body}

    def _delivery(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "ObjectEvent",
            "epcList": [],
            "quantityList": [self._quantity(ref) for ref in data["outputs"]],
            "action": "ADD",
            # CBV 2.0 counts harvesting as commissioning the product's class instance.
            "bizStep": "commissioning",
            "disposition": "active",
            "ilmd": {
                "cbvmda:countryOfOrigin": "PE",
                "cbvmda:harvestStartDate": data["harvested_on"],
                "cbvmda:harvestEndDate": data["harvested_on"],
                "chacra:plot": f"{self.base}/api/v1/plots/{data['plot_id']}",
                "chacra:farmer": f"{self.base}/api/v1/farmers/{data['farmer_id']}",
            },
            "chacra:cooperative": f"{self.base}/api/v1/cooperatives/{data['cooperative_id']}",
        }
        if data.get("cooperative_gln"):
            location = {"id": f"https://id.gs1.org/414/{data['cooperative_gln']}"}
            body["readPoint"] = location
            body["bizLocation"] = location
        return body

    def _transformation_like(self, data: Mapping[str, Any], operation: str) -> dict[str, Any]:
        return {
            "type": "TransformationEvent",
            "inputQuantityList": [self._quantity(ref) for ref in data["inputs"]],
            "outputQuantityList": [self._quantity(ref) for ref in data["outputs"]],
            "bizStep": "commissioning",
            "disposition": "active",
            "chacra:operation": operation,
        }

    def _merge(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._transformation_like(data, "merge")

    def _split(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._transformation_like(data, "split")

    def _transformation(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._transformation_like(data, data["process"])

    def _observe(self, event: LotEvent, biz_step: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            "epcList": [],
            "quantityList": self._own_quantity(event),
            "action": "OBSERVE",
            "bizStep": biz_step,
            **{k: v for k, v in extra.items() if v is not None},
        }

    def _quality(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._observe(
            event,
            "inspecting",
            **{
                "chacra:moisturePct": data.get("moisture_pct"),
                "chacra:cutTest": data.get("cut_test"),
                "chacra:cuppingScore": data.get("cupping_score"),
                "chacra:defects": data.get("defects"),
                "chacra:grade": data.get("grade"),
            },
        )

    def _storage(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._observe(event, "storing", **{"chacra:warehouse": data.get("warehouse")})

    def _shipment(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        transactions = [
            {"type": kind, "bizTransaction": _urn(kind, data[field])}
            for kind, field in (("bol", "bill_of_lading"), ("inv", "invoice"))
            if data.get(field)
        ]
        return self._observe(
            event,
            "shipping",
            disposition="in_transit",
            bizTransactionList=transactions or None,
            sourceList=[{"type": "owning_party", "source": self._holder_uri(data)}],
            # CBV has no country identifier; the ISO URN names the destination country.
            destinationList=[
                {"type": "location", "destination": f"urn:iso:std:iso:3166:-1:{data['destination_country']}"}
            ],
            **{
                "chacra:destinationCountry": data.get("destination_country"),
                "chacra:container": data.get("container"),
                "chacra:coiNumber": data.get("coi_number"),
                "chacra:nopImportCertificate": data.get("nop_import_certificate"),
                "chacra:portOfLoading": data.get("port_of_loading"),
            },
        )

    def _holder_uri(self, data: Mapping[str, Any]) -> str:
        if data.get("holder_organization"):
            return _urn("organization", data["holder_organization"])
        return f"{self.base}/api/v1/cooperatives/{data.get('cooperative_id')}"

    def _handover(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        source = (
            _urn("organization", data["from_organization"])
            if data.get("from_organization")
            else f"{self.base}/api/v1/cooperatives/{data.get('cooperative_id')}"
        )
        return self._observe(
            event,
            "receiving",
            sourceList=[{"type": "owning_party", "source": source}],
            destinationList=[
                {"type": "owning_party", "destination": _urn("organization", data["to_organization"])}
            ],
        )

    def _fair(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._observe(
            event,
            "other",
            bizLocation={"id": f"{self.base}/api/v1/fairs/{data['fair_id']}"},
            **{"chacra:fair": data.get("fair_name"), "chacra:booth": data.get("booth")},
        )

    def _sale(self, event: LotEvent, data: Mapping[str, Any]) -> dict[str, Any]:
        transactions = (
            [{"type": "po", "bizTransaction": _urn("contract", data["contract"])}]
            if data.get("contract")
            else None
        )
        return self._observe(
            event, "other", bizTransactionList=transactions, **{"chacra:buyer": data.get("buyer")}
        )


def _event_uri(event_id: str) -> str:
    # Our ids are 128 random bits in hex; stamped as version 4, each one reads as a proper UUID.
    return f"urn:uuid:{uuid.UUID(hex=event_id.split('_', 1)[1], version=4)}"


def _urn(kind: str, value: str) -> str:
    return f"urn:chacra:{kind}:{quote(value, safe='')}"


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
