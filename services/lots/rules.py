"""The physical rules of the ledger: forms per product, and how much weight each process keeps.

Yield ranges are the output weight as a fraction of the input weight. They are deliberately a
little wider than textbook figures, because a collection centre weighs on a platform scale and
beans arrive wetter in the rainy season; a figure outside them is a typing error (a misplaced
decimal, kilos entered as quintals), which is what the check exists to catch.

Sources: ARCHITECTURE.md (wet cacao → dry ≈ 0.35–0.45; cherry → parchment ≈ 0.18–0.25;
parchment → green ≈ 0.75–0.85); MINAGRI / DEVIDA cacao post-harvest manuals (fermentation drains
10–25 % as sweatings; drying fermented beans from ~55 % to 7 % moisture keeps ~40–55 %); Peruvian
cooperatives' usual "rendimiento" of 78–82 % parchment → exportable green.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Final


class Product(StrEnum):
    CACAO = "cacao"
    COFFEE = "coffee"


class Form(StrEnum):
    BABA = "baba"
    FERMENTED = "fermented"
    DRY = "dry"
    CHERRY = "cherry"
    PARCHMENT = "parchment"
    GREEN = "green"


class Process(StrEnum):
    FERMENTATION = "fermentation"
    DRYING = "drying"
    HULLING = "hulling"
    SORTING = "sorting"


FORMS: Final[dict[Product, tuple[Form, ...]]] = {
    Product.CACAO: (Form.BABA, Form.FERMENTED, Form.DRY),
    Product.COFFEE: (Form.CHERRY, Form.PARCHMENT, Form.GREEN),
}


@dataclass(frozen=True, slots=True)
class YieldRange:
    product: Product
    process: Process
    input_form: Form
    output_form: Form
    low: Decimal
    high: Decimal

    def contains(self, ratio: Decimal) -> bool:
        return self.low <= ratio <= self.high

    def describe(self) -> str:
        return (
            f"{self.process.value} of {self.product.value} from {self.input_form.value} to "
            f"{self.output_form.value} keeps {self.low}–{self.high} of the input weight"
        )


def _r(product: Product, process: Process, source: Form, target: Form, low: str, high: str) -> YieldRange:
    return YieldRange(product, process, source, target, Decimal(low), Decimal(high))


C, K = Product.CACAO, Product.COFFEE
P = Process
YIELDS: Final[tuple[YieldRange, ...]] = (
    # Cacao: the pulp drains as sweatings while fermenting, then water leaves while drying.
    _r(C, P.FERMENTATION, Form.BABA, Form.FERMENTED, "0.75", "0.95"),
    _r(C, P.DRYING, Form.FERMENTED, Form.DRY, "0.40", "0.55"),
    # Fermenting and drying recorded as one step, or unfermented beans dried straight.
    _r(C, P.DRYING, Form.BABA, Form.DRY, "0.35", "0.45"),
    _r(C, P.SORTING, Form.DRY, Form.DRY, "0.85", "1.00"),
    # Coffee, washed process: pulping, fermenting, washing and drying cherries gives dry parchment.
    _r(K, P.FERMENTATION, Form.CHERRY, Form.PARCHMENT, "0.18", "0.25"),
    _r(K, P.DRYING, Form.CHERRY, Form.PARCHMENT, "0.18", "0.25"),
    _r(K, P.DRYING, Form.PARCHMENT, Form.PARCHMENT, "0.85", "1.00"),
    _r(K, P.HULLING, Form.PARCHMENT, Form.GREEN, "0.75", "0.85"),
    _r(K, P.SORTING, Form.PARCHMENT, Form.PARCHMENT, "0.90", "1.00"),
    _r(K, P.SORTING, Form.GREEN, Form.GREEN, "0.80", "1.00"),
)
_BY_KEY: Final = {(y.product, y.process, y.input_form, y.output_form): y for y in YIELDS}


def yield_range(product: Product, process: Process, source: Form, target: Form) -> YieldRange | None:
    return _BY_KEY.get((product, process, source, target))


def processes_from(product: Product, source: Form) -> list[YieldRange]:
    return [y for y in YIELDS if y.product is product and y.input_form is source]


def yield_table_markdown() -> str:
    """The table as the API documentation shows it."""
    lines = ["| product | process | from | to | yield |", "|---|---|---|---|---|"]
    lines += [
        f"| {y.product.value} | {y.process.value} | {y.input_form.value} | {y.output_form.value} "
        f"| {y.low}–{y.high} |"
        for y in YIELDS
    ]
    return "\n".join(lines)


GRAMS_PER_KG: Final = 1000
KG_QUANTUM: Final = Decimal("0.001")
# 10,000 t: far above any container (~20 t) or warehouse lot, far below the column's range.
MAX_KG: Final = Decimal("10000000")


def to_grams(kg: Decimal) -> int:
    """Kilograms with at most three decimals → exact grams (validated upstream)."""
    return int(kg * GRAMS_PER_KG)


def to_kg(grams: int) -> Decimal:
    return (Decimal(grams) / GRAMS_PER_KG).quantize(KG_QUANTUM, rounding=ROUND_HALF_EVEN)


def ratio(output_g: int, input_g: int) -> Decimal:
    return (Decimal(output_g) / Decimal(input_g)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
