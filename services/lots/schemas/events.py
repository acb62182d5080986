"""Bodies of the events that observe a lot, of corrections, and how an event reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stdnum import iso6346

from services.lots.schemas.ledger import Kilograms, LotQuantity, Name, Percent, Reference, Strict, Timed


class CutTest(Strict):
    """Cacao cut test (NTP ISO 2451): share of cut beans in each class."""

    beans_cut: int = Field(default=100, ge=1, le=1000)
    well_fermented_pct: Percent | None = None
    partly_fermented_pct: Percent | None = None
    violet_pct: Percent | None = None
    slaty_pct: Percent | None = None
    moldy_pct: Percent | None = None
    insect_damaged_pct: Percent | None = None
    germinated_pct: Percent | None = None

    @model_validator(mode="after")
    def _at_most_whole(self) -> CutTest:
        classes = self.model_dump(exclude={"beans_cut"}, exclude_none=True)
        if sum(classes.values(), Decimal(0)) > 100:
            raise PydanticCustomError("shares_over_100", "The cut-test classes add up to more than 100 %.")
        return self


class QualityEvent(Timed):
    type: Literal["quality"]
    moisture_pct: Percent | None = None
    cut_test: CutTest | None = None
    cupping_score: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)
    defects: int | None = Field(default=None, ge=0, le=10_000, description="Full defects per 350 g (SCA).")
    grade: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _measures_something(self) -> QualityEvent:
        if all(
            v is None
            for v in (self.moisture_pct, self.cut_test, self.cupping_score, self.defects, self.grade)
        ):
            raise PydanticCustomError(
                "no_measurement",
                "A quality event needs one of moisture_pct, cut_test, cupping_score, defects, grade.",
            )
        return self


class StorageEvent(Timed):
    type: Literal["storage"]
    warehouse: Name
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise PydanticCustomError(
            "unknown_country", "{value} is not an ISO 3166-1 alpha-2 country code.", {"value": value}
        )
    return code


def _container(value: str | None) -> str | None:
    if value is None:
        return None
    compact = iso6346.compact(value)
    if not iso6346.is_valid(compact):
        raise PydanticCustomError(
            "invalid_container_number",
            "{value} is not an ISO 6346 container number (4 letters, 7 digits, check digit).",
            {"value": value},
        )
    return str(compact)


class ShipmentEvent(Timed):
    type: Literal["shipment"]
    destination_country: str = Field(description="ISO 3166-1 alpha-2, e.g. DE, US, JP.")
    container: str | None = Field(default=None, description="ISO 6346, check digit verified.")
    bill_of_lading: Reference | None = None
    invoice: Reference | None = None
    coi_number: Reference | None = Field(
        default=None, description="EU TRACES certificate of inspection (organic imports into the EU)."
    )
    nop_import_certificate: Reference | None = Field(
        default=None, description="USDA NOP import certificate (organic imports into the US)."
    )
    port_of_loading: Name | None = None

    _check_country = field_validator("destination_country")(_country)
    _check_container = field_validator("container")(_container)


class HandoverEvent(Timed):
    type: Literal["handover"]
    to_organization: Name = Field(description="The exporter's organisation, as on its users' accounts.")


class FairEvent(Timed):
    type: Literal["fair"]
    fair_id: str
    booth: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None


class SaleEvent(Timed):
    type: Literal["sale"]
    buyer: Name
    contract: Reference | None = None


ObservationCreate = QualityEvent | StorageEvent | ShipmentEvent | FairEvent | SaleEvent | HandoverEvent
OBSERVATION_MODELS: dict[str, type[Timed]] = {
    "quality": QualityEvent,
    "storage": StorageEvent,
    "shipment": ShipmentEvent,
    "handover": HandoverEvent,
    "fair": FairEvent,
    "sale": SaleEvent,
}


class CorrectionEvent(Strict):
    """EPCIS errorDeclaration: says an earlier event was wrong, without deleting it."""

    type: Literal["correction"]
    corrects_event_id: str
    reason: Literal["incorrect_data", "did_not_occur"] = "incorrect_data"
    explanation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    quantity_kg: Kilograms | None = Field(
        default=None,
        description="The right weight, when a delivery's or a transformation's weight was wrong.",
    )
    replacement: dict[str, Any] | None = Field(
        default=None,
        description="The right event, same type as the wrong one (quality, storage, shipment, fair, sale).",
    )


EventCreate = Annotated[
    QualityEvent | StorageEvent | ShipmentEvent | HandoverEvent | FairEvent | SaleEvent | CorrectionEvent,
    Field(discriminator="type"),
]


class EventRead(BaseModel):
    id: str
    type: str
    lot_id: str
    event_time: datetime
    recorded_at: datetime
    recorded_by: str
    data: dict[str, Any]
    inputs: list[LotQuantity] = []
    outputs: list[LotQuantity] = []
    corrects_event_id: str | None = None
    corrected_by_event_id: str | None = Field(
        default=None, description="Set when a later correction declared this event wrong."
    )
