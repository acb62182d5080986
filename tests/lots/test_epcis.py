"""The EPCIS 2.0 export, checked against GS1's official JSON schema (shared/standards/epcis).

One lot history holds every kind of ledger event and every kind of correction; the document is
validated whole (for the lot and for its lineage) and event by event, and the mapping in
STANDARDS.md (bizStep, action, quantities in KGM, Digital Link identifiers, errorDeclaration) is
checked on the values. The schema is read where it lives, never copied into the repo.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from stdnum import ean

from shared.settings import Settings
from tests.conftest import make_settings
from tests.factories import create_cooperative, create_origin, deliver

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
BASE_URL = "https://chacra.example.pe"
COMPANY_PREFIX = "7750000"
GTIN13 = "775000012345" + ean.calc_check_digit("775000012345")
GTIN14 = GTIN13.rjust(14, "0")
EXPORTER = "Exportadora Andina SAC"
LOT_CODE = "[3467ACEFGHJKMNPRTWXY]{9}"
DIGITAL_LINK = re.compile(rf"^{re.escape(BASE_URL)}/01/(\d{{14}})/10/({LOT_CODE})$")
OFFSET = re.compile(r"^[+-]\d\d:\d\d$")

# Every event gets its own time, so the time names the event in the document (Peru is UTC−5).
PERU = timezone(timedelta(hours=-5))
_T0 = datetime(2026, 10, 2, 8, 0, tzinfo=PERU)
STEPS = [
    "delivery_a",
    "delivery_b",
    "merge",
    "transformation",
    "split",
    "quality",
    "quality_fixed",
    "storage",
    "fair",
    "shipment",
    "handover",
    "sale",
]
AT: dict[str, datetime] = {step: _T0 + timedelta(hours=3 * i) for i, step in enumerate(STEPS)}

CUT_TEST = {"beans_cut": 300, "well_fermented_pct": "72", "violet_pct": "20", "slaty_pct": "3"}
SHIPMENT = {
    "destination_country": "DE",
    "container": "CSQU3054383",
    "bill_of_lading": "MAEU262145789",
    "coi_number": "COI.EU.PE.2026.0004711",
    "nop_import_certificate": "NOP-IC-2026-0815",
}


def _default_standards_dir() -> Path:
    """The same place the ``standards_dir`` fixture looks, for parametrizing at collection time."""
    return Path(
        os.environ.get("CHACRA_STANDARDS_DIR", Path(__file__).resolve().parents[3] / "shared" / "standards")
    )


EXAMPLES = sorted(p.name for p in (_default_standards_dir() / "epcis" / "examples").glob("*.json*"))
# Official examples that GS1's own schema refuses, with the reason (none so far).
INVALID_EXAMPLES: dict[str, str] = {}


# --- the oracle ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def epcis_schema(standards_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((standards_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    return schema


@pytest.fixture(scope="session")
def validator(epcis_schema: dict[str, Any]) -> Validator:
    """The validator the schema's ``$schema`` names, with its format checker switched on."""
    cls = validator_for(epcis_schema)
    cls.check_schema(epcis_schema)
    return cls(epcis_schema, format_checker=cls.FORMAT_CHECKER)


def schema_errors(validator: Validator, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def _example(standards_dir: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((standards_dir / "epcis" / "examples" / name).read_text())
    return data


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_official_examples_validate(validator: Validator, standards_dir: Path, name: str) -> None:
    if name in INVALID_EXAMPLES:
        pytest.skip(f"{name}: {INVALID_EXAMPLES[name]}")
    assert schema_errors(validator, _example(standards_dir, name)) == []


def test_the_oracle_checks_date_time_formats(validator: Validator, standards_dir: Path) -> None:
    document = _example(standards_dir, "Example_9.6.1-ObjectEvent.jsonld")
    broken = copy.deepcopy(document)
    broken["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    errors = list(validator.iter_errors(broken))
    assert any(e.validator == "format" and e.instance == "yesterday" for e in errors), errors


def test_the_oracle_checks_uri_formats(validator: Validator, standards_dir: Path) -> None:
    document = _example(standards_dir, "Example_9.6.1-ObjectEvent.jsonld")
    broken = copy.deepcopy(document)
    broken["epcisBody"]["eventList"][0]["eventID"] = "not a uri at all"
    errors = list(validator.iter_errors(broken))
    assert any(e.validator == "format" and e.instance == "not a uri at all" for e in errors), errors


# --- a lot history with every kind of event --------------------------------------------------------


@pytest.fixture
def settings(database_url: str, signing_key_pem: str) -> Settings:
    """The conftest settings with a public host, so lot identifiers are real Digital Link URIs."""
    return make_settings(database_url, signing_key_pem, public_base_url=BASE_URL)


@dataclass
class History:
    lots: dict[str, dict[str, Any]]
    lineage: dict[str, Any]
    own: dict[str, Any]
    media_type: str

    def link(self, name: str) -> str:
        return str(self.lots[name]["digital_link"])


def _at(step: str) -> str:
    return AT[step].isoformat()


async def _post(api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 201, f"{path}: {response.text}"
    return response.json()


@pytest.fixture
async def history(
    api: httpx.AsyncClient, admin_headers: dict[str, str], headers_for: Callable[..., dict[str, str]]
) -> History:
    coop = await create_cooperative(
        api, admin_headers, products=["cacao"], gs1_company_prefix=COMPANY_PREFIX, gtins={"cacao": GTIN13}
    )
    origin = await create_origin(api, admin_headers, headers_for, cooperative=coop)
    manager = origin.headers
    a = await deliver(api, origin, "1000", received_at=_at("delivery_a"), harvested_on="2026-10-01")
    b = await deliver(api, origin, "500", received_at=_at("delivery_b"), harvested_on="2026-10-01")
    # The scale read 1000 kg but it was 1100 kg: a weight correction of the delivery.
    await _post(
        api,
        f"/api/v1/lots/{a['id']}/events",
        {
            "type": "correction",
            "corrects_event_id": a["created_event_id"],
            "reason": "incorrect_data",
            "explanation": "Balanza mal tarada",
            "quantity_kg": "1100",
        },
        manager,
    )
    merged = await _post(
        api,
        "/api/v1/lots/merge",
        {
            "inputs": [{"lot_id": a["id"], "quantity_kg": "1100"}, {"lot_id": b["id"], "quantity_kg": "500"}],
            "event_time": _at("merge"),
        },
        manager,
    )
    fermented = await _post(
        api,
        f"/api/v1/lots/{merged['id']}/transform",
        {
            "process": "fermentation",
            "output_form": "fermented",
            "output_quantity_kg": "1360",
            "event_time": _at("transformation"),
        },
        manager,
    )
    split = await _post(
        api,
        f"/api/v1/lots/{fermented['id']}/split",
        {"outputs": [{"quantity_kg": "600"}, {"quantity_kg": "700"}], "event_time": _at("split")},
        manager,
    )
    bag, other_bag = split["lots"]
    events = f"/api/v1/lots/{bag['id']}/events"
    quality = await _post(
        api,
        events,
        {"type": "quality", "moisture_pct": "9.5", "cut_test": CUT_TEST, "event_time": _at("quality")},
        manager,
    )
    await _post(
        api,
        events,
        {
            "type": "correction",
            "corrects_event_id": quality["id"],
            "reason": "incorrect_data",
            "explanation": "Humedad de otra muestra",
            "replacement": {"moisture_pct": "7.2", "cut_test": CUT_TEST, "event_time": _at("quality_fixed")},
        },
        manager,
    )
    await _post(
        api,
        events,
        {"type": "storage", "warehouse": "Almacén Tarapoto", "event_time": _at("storage")},
        manager,
    )
    fair = await _post(
        api,
        "/api/v1/fairs",
        {
            "name": "Salón del Cacao y Chocolate",
            "city": "Lima",
            "starts_on": "2026-10-01",
            "ends_on": "2026-10-10",
        },
        manager,
    )
    await _post(
        api,
        events,
        {"type": "fair", "fair_id": fair["id"], "booth": "B12", "event_time": _at("fair")},
        manager,
    )
    shipment = await _post(
        api, events, {"type": "shipment", **SHIPMENT, "event_time": _at("shipment")}, manager
    )
    await _post(
        api,
        events,
        {
            "type": "correction",
            "corrects_event_id": shipment["id"],
            "reason": "did_not_occur",
            "explanation": "El contenedor no embarcó",
        },
        manager,
    )
    await _post(
        api, events, {"type": "handover", "to_organization": EXPORTER, "event_time": _at("handover")}, manager
    )
    exporter = headers_for("exporter", organization=EXPORTER)
    await _post(
        api,
        events,
        {"type": "sale", "buyer": "Chocolaterie Dupont", "contract": "C-2026-77", "event_time": _at("sale")},
        exporter,
    )

    lineage = await api.get(events, params={"format": "epcis", "scope": "lineage"}, headers=admin_headers)
    assert lineage.status_code == 200, lineage.text
    own = await api.get(events, params={"format": "epcis"}, headers=admin_headers)
    assert own.status_code == 200, own.text
    return History(
        lots={"a": a, "b": b, "merged": merged, "fermented": fermented, "bag": bag, "other_bag": other_bag},
        lineage=lineage.json(),
        own=own.json(),
        media_type=lineage.headers["content-type"],
    )


def event_list(document: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return events


def at(document: dict[str, Any], step: str, *, declared: bool = False) -> list[dict[str, Any]]:
    """The events that happened at a step's time, with or without an errorDeclaration."""
    return [
        e
        for e in event_list(document)
        if datetime.fromisoformat(e["eventTime"]) == AT[step] and ("errorDeclaration" in e) == declared
    ]


def one(document: dict[str, Any], step: str, *, declared: bool = False) -> dict[str, Any]:
    found = at(document, step, declared=declared)
    assert len(found) == 1, f"{step} (declared={declared}): {json.dumps(found, indent=1)[:3000]}"
    return found[0]


def by_id(document: dict[str, Any], event_id: str) -> dict[str, Any]:
    found = [e for e in event_list(document) if e.get("eventID") == event_id and "errorDeclaration" not in e]
    assert len(found) == 1, f"{event_id}: {len(found)} events"
    return found[0]


def corrective(document: dict[str, Any], step: str) -> dict[str, Any]:
    declaration = one(document, step, declared=True)["errorDeclaration"]
    ids = declaration.get("correctiveEventIDs") or []
    assert len(ids) == 1, declaration
    return by_id(document, ids[0])


def quantities(items: list[dict[str, Any]]) -> dict[str, float]:
    assert all(item.get("uom") == "KGM" for item in items), items
    return {item["epcClass"]: item["quantity"] for item in items}


# --- whole documents -------------------------------------------------------------------------------


async def test_the_lineage_document_validates_against_the_gs1_schema(
    history: History, validator: Validator
) -> None:
    assert schema_errors(validator, history.lineage) == []


async def test_the_lot_document_validates_against_the_gs1_schema(
    history: History, validator: Validator
) -> None:
    assert schema_errors(validator, history.own) == []


async def test_the_document_is_an_epcis_2_document(history: History) -> None:
    document = history.lineage
    context = document["@context"]
    assert EPCIS_CONTEXT in (context if isinstance(context, list) else [context])
    assert document["type"] == "EPCISDocument"
    assert document["schemaVersion"] == "2.0"
    assert history.media_type.startswith("application/ld+json")


async def test_the_lineage_document_holds_every_ancestors_events(history: History) -> None:
    times = {datetime.fromisoformat(e["eventTime"]) for e in event_list(history.lineage)}
    assert times == set(AT.values())


async def test_the_lot_document_holds_only_the_events_that_touched_the_lot(history: History) -> None:
    times = {datetime.fromisoformat(e["eventTime"]) for e in event_list(history.own)}
    assert times == {AT[s] for s in STEPS[STEPS.index("split") :]}


# --- each event alone --------------------------------------------------------------------------------

EVENT_KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "delivery": lambda d: one(d, "delivery_b"),
    "merge": lambda d: one(d, "merge"),
    "split": lambda d: one(d, "split"),
    "transformation": lambda d: one(d, "transformation"),
    "quality": lambda d: one(d, "quality"),
    "storage": lambda d: one(d, "storage"),
    "shipment": lambda d: one(d, "shipment"),
    "handover": lambda d: one(d, "handover"),
    "fair": lambda d: one(d, "fair"),
    "sale": lambda d: one(d, "sale"),
    "delivery_weight_correction": lambda d: one(d, "delivery_a", declared=True),
    "delivery_right_weight": lambda d: corrective(d, "delivery_a"),
    "quality_correction": lambda d: one(d, "quality", declared=True),
    "quality_replacement": lambda d: corrective(d, "quality"),
    "shipment_did_not_occur": lambda d: one(d, "shipment", declared=True),
}


def alone(document: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The event in the smallest document the schema accepts (the document's own @context)."""
    return {
        "@context": document["@context"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": document["creationDate"],
        "epcisBody": {"eventList": [event]},
    }


@pytest.mark.parametrize("kind", list(EVENT_KINDS))
async def test_each_kind_of_event_validates_alone(history: History, validator: Validator, kind: str) -> None:
    event = EVENT_KINDS[kind](history.lineage)
    assert schema_errors(validator, alone(history.lineage, event)) == []


# --- the mapping (STANDARDS.md) ---------------------------------------------------------------------


async def test_a_delivery_is_a_commissioning_object_event_with_ilmd(history: History) -> None:
    event = one(history.lineage, "delivery_b")
    assert event["type"] == "ObjectEvent"
    assert event["action"] == "ADD"
    assert event["bizStep"] == "commissioning"
    assert isinstance(event.get("ilmd"), dict) and event["ilmd"]
    assert quantities(event["quantityList"]) == {history.link("b"): 500.0}


async def test_a_merge_is_a_transformation_event_in_kilograms(history: History) -> None:
    event = one(history.lineage, "merge")
    assert event["type"] == "TransformationEvent"
    assert quantities(event["inputQuantityList"]) == {history.link("a"): 1100.0, history.link("b"): 500.0}
    assert quantities(event["outputQuantityList"]) == {history.link("merged"): 1600.0}


async def test_a_transformation_is_a_transformation_event_in_kilograms(history: History) -> None:
    event = one(history.lineage, "transformation")
    assert event["type"] == "TransformationEvent"
    assert quantities(event["inputQuantityList"]) == {history.link("merged"): 1600.0}
    assert quantities(event["outputQuantityList"]) == {history.link("fermented"): 1360.0}


async def test_a_split_is_a_transformation_event_in_kilograms(history: History) -> None:
    event = one(history.lineage, "split")
    assert event["type"] == "TransformationEvent"
    assert quantities(event["inputQuantityList"]) == {history.link("fermented"): 1300.0}
    assert quantities(event["outputQuantityList"]) == {
        history.link("bag"): 600.0,
        history.link("other_bag"): 700.0,
    }


async def test_a_quality_record_is_an_inspecting_observation(history: History) -> None:
    for step in ("quality", "quality_fixed"):
        event = one(history.lineage, step)
        assert (event["type"], event["action"], event["bizStep"]) == ("ObjectEvent", "OBSERVE", "inspecting")
        assert [q["epcClass"] for q in event["quantityList"]] == [history.link("bag")]


async def test_storage_is_a_storing_event(history: History) -> None:
    event = one(history.lineage, "storage")
    assert (event["type"], event["bizStep"]) == ("ObjectEvent", "storing")
    assert [q["epcClass"] for q in event["quantityList"]] == [history.link("bag")]


async def test_a_shipment_is_a_shipping_event_with_its_bill_of_lading(history: History) -> None:
    event = one(history.lineage, "shipment")
    assert (event["type"], event["bizStep"]) == ("ObjectEvent", "shipping")
    bols = [t["bizTransaction"] for t in event.get("bizTransactionList", []) if t["type"] == "bol"]
    assert len(bols) == 1 and bols[0].endswith(SHIPMENT["bill_of_lading"]), event
    text = json.dumps(event)
    for field in ("container", "coi_number", "nop_import_certificate"):
        assert SHIPMENT[field] in text, field


async def test_a_fair_presentation_has_a_business_location(history: History) -> None:
    event = one(history.lineage, "fair")
    assert event["type"] == "ObjectEvent"
    assert event["action"] == "OBSERVE"
    assert event["bizLocation"]["id"]


async def test_every_event_has_its_time_and_a_hh_mm_offset(history: History) -> None:
    for event in event_list(history.lineage):
        assert OFFSET.match(event["eventTimeZoneOffset"]), event
        # Everything here happened in Peru, which keeps UTC−5 all year.
        assert event["eventTimeZoneOffset"] == "-05:00", event
        assert datetime.fromisoformat(event["eventTime"]) in AT.values(), event


async def test_lots_are_identified_by_digital_link_uris(history: History) -> None:
    classes = set()
    for event in event_list(history.lineage):
        for key in ("quantityList", "inputQuantityList", "outputQuantityList"):
            classes |= {item["epcClass"] for item in event.get(key, [])}
    assert classes == {history.link(name) for name in history.lots}
    for uri in classes:
        match = DIGITAL_LINK.match(uri)
        assert match is not None, uri
        assert match.group(1) == GTIN14 and ean.is_valid(match.group(1))
    for lot in history.lots.values():
        assert lot["gtin"] == GTIN14
        assert lot["digital_link"] == f"{BASE_URL}/01/{GTIN14}/10/{lot['code']}"


async def test_event_ids_are_unique_except_for_error_declarations(history: History) -> None:
    events = event_list(history.lineage)
    plain = [e["eventID"] for e in events if "errorDeclaration" not in e]
    declared = [e["eventID"] for e in events if "errorDeclaration" in e]
    assert len(plain) == len(set(plain))
    assert len(declared) == len(set(declared)) == 3
    # A declaration repeats the wrong event under its own id.
    assert set(declared) <= set(plain)


# --- corrections --------------------------------------------------------------------------------------


def _declared_copy_of(document: dict[str, Any], step: str) -> tuple[dict[str, Any], dict[str, Any]]:
    declared = one(document, step, declared=True)
    originals = [e for e in at(document, step) if e["eventID"] == declared["eventID"]]
    assert len(originals) == 1, originals
    return originals[0], declared


async def test_a_delivery_weight_correction_declares_the_error_and_states_the_right_weight(
    history: History,
) -> None:
    original, declared = _declared_copy_of(history.lineage, "delivery_a")
    declaration = declared["errorDeclaration"]
    assert declaration["reason"] == "incorrect_data"
    assert datetime.fromisoformat(declaration["declarationTime"]) > AT["delivery_a"]
    assert quantities(original["quantityList"]) == {history.link("a"): 1000.0}
    assert {k: v for k, v in declared.items() if k != "errorDeclaration"} == original
    right = corrective(history.lineage, "delivery_a")
    assert right["eventID"] != original["eventID"]
    assert (right["type"], right["action"], right["bizStep"]) == ("ObjectEvent", "ADD", "commissioning")
    assert quantities(right["quantityList"]) == {history.link("a"): 1100.0}


async def test_a_quality_correction_points_at_its_replacement(history: History) -> None:
    original, declared = _declared_copy_of(history.lineage, "quality")
    declaration = declared["errorDeclaration"]
    assert declaration["reason"] == "incorrect_data"
    assert datetime.fromisoformat(declaration["declarationTime"]) > AT["quality"]
    replacement = corrective(history.lineage, "quality")
    assert replacement == one(history.lineage, "quality_fixed")
    assert replacement["bizStep"] == "inspecting"
    assert "7.2" in json.dumps(replacement) and "7.2" not in json.dumps(original)


async def test_a_shipment_that_did_not_occur_is_declared_so(history: History) -> None:
    original, declared = _declared_copy_of(history.lineage, "shipment")
    declaration = declared["errorDeclaration"]
    assert declaration["reason"] == "did_not_occur"
    assert datetime.fromisoformat(declaration["declarationTime"]) > AT["shipment"]
    assert {k: v for k, v in declared.items() if k != "errorDeclaration"} == original
    # Nothing replaces an event that did not happen; whatever ids are named must be in the document.
    for event_id in declaration.get("correctiveEventIDs", []):
        by_id(history.lineage, event_id)


async def test_every_corrective_event_id_is_in_the_document(history: History) -> None:
    declarations = [e["errorDeclaration"] for e in event_list(history.lineage) if "errorDeclaration" in e]
    named = [i for d in declarations for i in d.get("correctiveEventIDs", [])]
    assert len(named) >= 2
    ids = {e["eventID"] for e in event_list(history.lineage) if "errorDeclaration" not in e}
    assert set(named) <= ids
