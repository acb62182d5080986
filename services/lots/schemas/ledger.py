"""Bodies of the requests that move kilograms, and how a lot reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.lots.rules import MAX_KG, Form, Process, Product
from shared.types import JsonDecimal

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Kilograms = Annotated[
    Decimal,
    Field(gt=0, le=MAX_KG, decimal_places=3, description="Kilograms, at most three decimals (grams)."),
]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
# Devices queue events offline and clocks drift; a few minutes ahead is a clock, not the future.
CLOCK_SKEW = timedelta(minutes=5)
EventTime = Annotated[
    AwareDatetime | None,
    Field(description="When it happened (ISO 8601 with offset); defaults to when it is recorded."),
]


def _not_future_time(value: datetime | None) -> datetime | None:
    if value is not None and value > datetime.now(UTC) + CLOCK_SKEW:
        raise PydanticCustomError(
            "time_in_future", "The time {value} is in the future.", {"value": str(value)}
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timed(Strict):
    event_time: EventTime = None

    _check_time = field_validator("event_time")(_not_future_time)


class DeliveryCreate(Strict):
    cooperative_id: str
    farmer_id: str
    plot_id: str
    product: Product
    form: Form = Field(description="cacao: baba, fermented, dry; coffee: cherry, parchment, green.")
    quantity_kg: Kilograms
    harvested_on: date
    received_at: AwareDatetime | None = Field(
        default=None, description="When the collection centre weighed it; defaults to now."
    )

    @field_validator("harvested_on")
    @classmethod
    def _harvest_not_future(cls, value: date) -> date:
        if value > date.today() + timedelta(days=1):
            raise PydanticCustomError(
                "date_in_future", "The date {value} is in the future.", {"value": str(value)}
            )
        return value

    _check_received = field_validator("received_at")(_not_future_time)


class MergeInput(Strict):
    lot_id: str
    quantity_kg: Kilograms


class MergeCreate(Timed):
    inputs: list[MergeInput] = Field(min_length=2, max_length=500)
    form: Form | None = Field(default=None, description="Must be the inputs' form when given.")

    @field_validator("inputs")
    @classmethod
    def _distinct(cls, inputs: list[MergeInput]) -> list[MergeInput]:
        ids = [i.lot_id for i in inputs]
        if len(set(ids)) != len(ids):
            raise PydanticCustomError(
                "duplicate_input", "Each lot may appear once among the inputs; add up its kilograms."
            )
        return inputs


class SplitOutput(Strict):
    quantity_kg: Kilograms


class SplitCreate(Timed):
    outputs: list[SplitOutput] = Field(min_length=1, max_length=500)


class TransformCreate(Timed):
    process: Process
    output_form: Form
    output_quantity_kg: Kilograms
    input_quantity_kg: Kilograms | None = Field(
        default=None, description="How much of the lot goes in; defaults to all that is left."
    )


class LotRead(BaseModel):
    id: str
    code: str = Field(description="Short, unambiguous, URL-safe; printed on the sack and in the QR code.")
    gtin: str | None = Field(description="GTIN-14 when the cooperative has a GS1 company prefix.")
    digital_link: str = Field(description="What the lot's QR code encodes (GS1 Digital Link or /l/{code}).")
    product: Product
    form: Form
    origin: Literal["delivery", "merge", "split", "transformation"]
    quantity_kg: JsonDecimal
    remaining_kg: JsonDecimal
    status: Literal["active", "depleted", "shipped", "sold"]
    cooperative_id: str | None = Field(description="Null for a lot merged from several cooperatives.")
    holder_organization: str | None = Field(
        description="The exporter holding it; null while the cooperative does."
    )
    harvested_on: date | None
    farmer_id: str | None = None
    plot_id: str | None = None
    created_event_id: str
    created_at: datetime


class SplitResult(BaseModel):
    lots: list[LotRead]


class LotQuantity(BaseModel):
    lot_id: str
    code: str
    quantity_kg: JsonDecimal
