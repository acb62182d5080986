"""Property tests of the lot ledger: random graphs of deliveries, merges, splits and transformations.

Hypothesis draws a list of operations; each is sent through the API and applied to a small model
of the ledger kept here in exact integers and fractions. After every step the API and the database
must agree with the model on every lot: what is left of it, what was taken from it, and the
projection (lot_states) against the ledger (lot_edges). The lineage (every ancestor delivery, the
kilograms each contributed) and the provenance shares (each breakdown adding up to exactly 100 %)
are checked for the lots each step makes, and for every lot at the end of the example: nothing a
later event does may change an existing lot's ancestry. A refused operation (409 or 422) must
change nothing.

Each test builds the platform on fresh databases of its own (real engines, real commits) and
reuses them for every example: an example makes a cooperative of its own and only new lots.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.lots.rules import FORMS, Form, Process, Product, processes_from, yield_range
from tests.factories import create_cooperative, create_farmer, create_plot
from tests.lots.test_concurrency import Fresh, fresh_platform, ledger_mismatches

Headers = dict[str, str]
LOTS = "/api/v1/lots"
UBIGEOS = ("220901", "220101", "220501")  # Tarapoto, Moyobamba, Lamas (San Martín)
ONE_GRAM = Decimal("0.0005")  # a kilogram figure rounded to grams is at most half a gram off
ONE_UNIT = Decimal("0.0001")  # a largest-remainder percentage is less than one last digit off
STATUS_OF = {
    "products_mixed": 422,
    "forms_mixed": 422,
    "unknown_transformation": 422,
    "yield_out_of_range": 422,
    "lot_not_active": 409,
    "insufficient_quantity": 409,
}


def kg_text(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d}"


def grams_of(value: Any) -> int:
    kg = Decimal(str(value))
    grams = kg * 1000
    assert grams == grams.to_integral_value(), f"{value} kg is not a whole number of grams"
    return int(grams)


def decimal_json(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def percent(fraction: Fraction) -> Fraction:
    return fraction * 100


def close(actual: Decimal, exact: Fraction, tolerance: Decimal) -> bool:
    return abs(Fraction(actual) - exact) <= Fraction(tolerance)


# --- the operations Hypothesis draws --------------------------------------------------------------


@dataclass(frozen=True)
class Deliver:
    plot: int
    form: int
    grams: int


@dataclass(frozen=True)
class Merge:
    anchor: int
    others: tuple[int, ...]
    permilles: tuple[int, ...]
    mix: bool  # inputs drawn from every lot, not only those of the anchor's product and form
    spent: bool  # the first input drawn among the depleted lots, the others among all
    over: int  # > 0: the last input asks for this many grams more than is left


@dataclass(frozen=True)
class Split:
    pick: int
    permille: int
    weights: tuple[int, ...]
    spent: bool
    over: int


@dataclass(frozen=True)
class Transform:
    pick: int
    choice: int
    input_permille: int | None  # None: the whole remainder (input_quantity_kg left out)
    position: int  # where in the yield range the output falls, 0–1000
    fault: Literal["none", "low", "high", "unknown", "over"]
    extra: int
    spent: bool


Operation = Deliver | Merge | Split | Transform

grams_st = st.integers(min_value=1, max_value=300_000)
permille_st = st.integers(min_value=1, max_value=1000)
index_st = st.integers(min_value=0, max_value=1000)
over_st = st.sampled_from([0, 0, 0, 0, 1, 2_500])
spent_st = st.sampled_from([False, False, False, True])
# Mostly the first form, so that lots of one form pile up and can be merged.
delivery_st = st.builds(Deliver, plot=index_st, form=st.sampled_from([0, 0, 0, 1, 2]), grams=grams_st)
merge_st = st.builds(
    Merge,
    anchor=index_st,
    others=st.lists(index_st, min_size=1, max_size=4).map(tuple),
    permilles=st.lists(permille_st, min_size=5, max_size=5).map(tuple),
    mix=st.sampled_from([False, False, False, True]),
    spent=spent_st,
    over=over_st,
)
split_st = st.builds(
    Split,
    pick=index_st,
    permille=permille_st,
    weights=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=3).map(tuple),
    spent=spent_st,
    over=over_st,
)
transform_st = st.builds(
    Transform,
    pick=index_st,
    choice=index_st,
    input_permille=st.none() | permille_st,
    position=st.integers(min_value=0, max_value=1000),
    fault=st.sampled_from(["none", "none", "none", "none", "low", "high", "unknown", "over"]),
    extra=st.integers(min_value=0, max_value=5_000),
    spent=spent_st,
)
operations_st = st.lists(st.one_of(merge_st, split_st, transform_st, delivery_st), min_size=1, max_size=8)


# --- the model ------------------------------------------------------------------------------------


@dataclass
class Plot:
    id: str
    farmer_id: str
    crop: Product
    ubigeo: str


@dataclass
class ModelLot:
    id: str
    origin: str
    product: Product
    form: Form
    quantity_g: int
    remaining_g: int
    parents: list[tuple[str, int]] = field(default_factory=list)  # (parent lot, grams it gave)
    plot: Plot | None = None  # deliveries only


@dataclass
class Expected:
    faults: set[str]

    @property
    def ok(self) -> bool:
        return not self.faults


class Model:
    def __init__(self) -> None:
        self.lots: dict[str, ModelLot] = {}
        self._shares: dict[str, dict[str, Fraction]] = {}
        self._contributions: dict[str, dict[str, Fraction]] = {}

    def add(self, lot: ModelLot) -> None:
        for parent, grams in lot.parents:
            self.lots[parent].remaining_g -= grams
        self.lots[lot.id] = lot

    def drawn_g(self, lot_id: str) -> int:
        """Grams later events took from the lot: the edges leaving it, counted apart from remaining_g."""
        return sum(g for child in self.lots.values() for parent, g in child.parents if parent == lot_id)

    def ancestors(self, lot_id: str) -> set[str]:
        found: set[str] = set()
        stack = [lot_id]
        while stack:
            for parent, _ in self.lots[stack.pop()].parents:
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    def edges(self, lot_id: str) -> set[tuple[str, str, int]]:
        return {
            (parent, child, grams)
            for child in self.ancestors(lot_id) | {lot_id}
            for parent, grams in self.lots[child].parents
        }

    def shares(self, lot_id: str) -> dict[str, Fraction]:
        """Delivery → its share of the lot by weight: each input weighs by what it gave."""
        if lot_id not in self._shares:
            lot = self.lots[lot_id]
            result: dict[str, Fraction] = defaultdict(Fraction)
            if not lot.parents:
                result[lot_id] = Fraction(1)
            total = sum(g for _, g in lot.parents)
            for parent, grams in lot.parents:
                for delivery, share in self.shares(parent).items():
                    result[delivery] += share * Fraction(grams, total)
            self._shares[lot_id] = dict(result)
        return self._shares[lot_id]

    def contributions(self, lot_id: str) -> dict[str, Fraction]:
        """Delivery → grams of its delivered weight that went into the lot, following the flows
        forward: a draw of g grams from a lot of quantity q carries g/q of everything in it."""
        if lot_id not in self._contributions:
            lot = self.lots[lot_id]
            result: dict[str, Fraction] = defaultdict(Fraction)
            if not lot.parents:
                result[lot_id] = Fraction(lot.quantity_g)
            for parent, grams in lot.parents:
                carried = Fraction(grams, self.lots[parent].quantity_g)
                for delivery, contributed in self.contributions(parent).items():
                    result[delivery] += contributed * carried
            self._contributions[lot_id] = dict(result)
        return self._contributions[lot_id]


def quantity_faults(lot: ModelLot, grams: int) -> set[str]:
    if lot.remaining_g == 0:
        return {"lot_not_active"}
    return {"insufficient_quantity"} if grams > lot.remaining_g else set()


# --- running operations against the API -----------------------------------------------------------


class Ledger:
    """One example: a cooperative of its own, its plots, the model, and the API to check."""

    def __init__(self, api: httpx.AsyncClient, fresh: Fresh, headers: Headers, cooperative_id: str) -> None:
        self.api = api
        self.fresh = fresh
        self.headers = headers
        self.cooperative_id = cooperative_id
        self.plots: list[Plot] = []
        self.model = Model()
        self.created: list[str] = []  # lots the last operation made

    def _pool(self, spent: bool) -> list[ModelLot]:
        """The lots an operation picks from: active ones, or when ``spent`` the depleted ones (all
        lots while none is depleted)."""
        lots = list(self.model.lots.values())
        if spent:
            return [lot for lot in lots if lot.remaining_g == 0] or lots
        return [lot for lot in lots if lot.remaining_g > 0]

    async def _post(self, path: str, body: dict[str, Any], expected: Expected) -> Any:
        response = await self.api.post(path, json=body, headers=self.headers)
        assert response.status_code < 500, response.text
        kind = path.rsplit("/", 1)[-1] if path != LOTS else "delivery"
        event(f"{kind}: {response.status_code} {'' if expected.ok else sorted(expected.faults)}")
        if expected.ok:
            assert response.status_code == 201, (body, response.text)
            return decimal_json(response)
        codes = {STATUS_OF[f] for f in expected.faults}
        assert response.status_code in codes, (body, expected.faults, response.text)
        problem = decimal_json(response)
        assert problem["code"] in expected.faults, (body, expected.faults, problem)
        return None

    async def run(self, op: Operation) -> None:
        known = set(self.model.lots)
        await self._run(op)
        self.created = [lot_id for lot_id in self.model.lots if lot_id not in known]

    async def _run(self, op: Operation) -> None:
        if isinstance(op, Deliver):
            await self.deliver(op)
        elif isinstance(op, Merge):
            await self.merge(op)
        elif isinstance(op, Split):
            await self.split(op)
        else:
            await self.transform(op)

    async def deliver(self, op: Deliver) -> None:
        plot = self.plots[op.plot % len(self.plots)]
        form = FORMS[plot.crop][op.form % len(FORMS[plot.crop])]
        body = {
            "cooperative_id": self.cooperative_id,
            "farmer_id": plot.farmer_id,
            "plot_id": plot.id,
            "product": plot.crop.value,
            "form": form.value,
            "quantity_kg": kg_text(op.grams),
            "harvested_on": "2025-09-15",
        }
        lot = await self._post(LOTS, body, Expected(set()))
        assert (lot["plot_id"], lot["farmer_id"], lot["origin"]) == (plot.id, plot.farmer_id, "delivery")
        assert grams_of(lot["quantity_kg"]) == grams_of(lot["remaining_kg"]) == op.grams
        self.model.add(ModelLot(lot["id"], "delivery", plot.crop, form, op.grams, op.grams, plot=plot))

    async def merge(self, op: Merge) -> None:
        pool = self._pool(op.spent)
        if not pool:
            return
        anchor = pool[op.anchor % len(pool)]
        others = self.model.lots.values() if op.spent else pool
        candidates = [
            lot
            for lot in others
            if lot is not anchor and (op.mix or (lot.product, lot.form) == (anchor.product, anchor.form))
        ]
        if not candidates:
            return
        chosen = [anchor]
        for index in op.others:
            lot = candidates[index % len(candidates)]
            if lot not in chosen:
                chosen.append(lot)
        if len(chosen) < 2:
            return
        grams = [
            max(1, lot.remaining_g * p // 1000)
            for lot, p in zip(chosen, op.permilles[: len(chosen)], strict=True)
        ]
        if op.over:
            grams[-1] = chosen[-1].remaining_g + op.over
        faults: set[str] = set()
        if len({lot.product for lot in chosen}) > 1:
            faults.add("products_mixed")
        if len({lot.form for lot in chosen}) > 1:
            faults.add("forms_mixed")
        for lot, g in zip(chosen, grams, strict=True):
            faults |= quantity_faults(lot, g)
        body = {
            "inputs": [
                {"lot_id": lot.id, "quantity_kg": kg_text(g)} for lot, g in zip(chosen, grams, strict=True)
            ]
        }
        merged = await self._post(f"{LOTS}/merge", body, Expected(faults))
        if merged is None:
            return
        # A merge's quantity is the sum of its inputs.
        assert grams_of(merged["quantity_kg"]) == grams_of(merged["remaining_kg"]) == sum(grams)
        assert (merged["origin"], merged["form"]) == ("merge", anchor.form.value)
        self.model.add(
            ModelLot(
                merged["id"],
                "merge",
                anchor.product,
                anchor.form,
                sum(grams),
                sum(grams),
                parents=[(lot.id, g) for lot, g in zip(chosen, grams, strict=True)],
            )
        )

    async def split(self, op: Split) -> None:
        pool = self._pool(op.spent)
        if not pool:
            return
        lot = pool[op.pick % len(pool)]
        count = len(op.weights)
        total = max(count, lot.remaining_g * op.permille // 1000)
        if op.over:
            total = max(count, lot.remaining_g + op.over)
        parts = [max(1, total * w // sum(op.weights)) for w in op.weights[:-1]]
        parts.append(total - sum(parts))
        if parts[-1] < 1:  # the rounding gave the first parts too much: even them out
            parts = [1] * (count - 1) + [total - (count - 1)]
        left = lot.remaining_g
        body = {"outputs": [{"quantity_kg": kg_text(g)} for g in parts]}
        result = await self._post(f"{LOTS}/{lot.id}/split", body, Expected(quantity_faults(lot, sum(parts))))
        if result is None:
            return
        outputs = result["lots"]
        assert [grams_of(o["quantity_kg"]) for o in outputs] == parts
        assert sum(parts) <= left  # a split's outputs take at most what was left
        for output, g in zip(outputs, parts, strict=True):
            assert (output["origin"], output["form"], grams_of(output["remaining_kg"])) == (
                "split",
                lot.form,
                g,
            )
            self.model.add(
                ModelLot(output["id"], "split", lot.product, lot.form, g, g, parents=[(lot.id, g)])
            )

    async def transform(self, op: Transform) -> None:
        pool = self._pool(op.spent)
        if not pool:
            return
        lot = pool[op.pick % len(pool)]
        options = processes_from(lot.product, lot.form)
        chosen = options[op.choice % len(options)]
        process: Process = chosen.process
        target: Form = chosen.output_form
        if op.fault == "unknown":
            target = next(
                f for f in FORMS[lot.product] if yield_range(lot.product, process, lot.form, f) is None
            )
        body: dict[str, Any] = {"process": process.value, "output_form": target.value}
        if op.fault == "over":
            input_g = lot.remaining_g + 1 + op.extra
        elif op.input_permille is None:
            input_g = lot.remaining_g
        else:
            input_g = max(1, lot.remaining_g * op.input_permille // 1000)
        if op.fault == "over" or op.input_permille is not None:
            body["input_quantity_kg"] = kg_text(input_g)
        low, high = Fraction(chosen.low) * input_g, Fraction(chosen.high) * input_g
        lowest, highest = ceil(low), floor(high)
        if op.fault == "low":
            output_g = max(1, (lowest - 1) * op.position // 1000)
        elif op.fault == "high":
            output_g = highest + 1 + op.extra
        else:
            output_g = max(1, lowest + (highest - lowest) * op.position // 1000)
        body["output_quantity_kg"] = kg_text(output_g)
        faults = quantity_faults(lot, input_g)
        known = yield_range(lot.product, process, lot.form, target)
        if known is None:
            faults.add("unknown_transformation")
        elif not Fraction(known.low) * input_g <= output_g <= Fraction(known.high) * input_g:
            faults.add("yield_out_of_range")
        made = await self._post(f"{LOTS}/{lot.id}/transform", body, Expected(faults))
        if made is None:
            return
        assert known is not None
        assert (made["origin"], made["form"]) == ("transformation", target.value)
        assert grams_of(made["quantity_kg"]) == grams_of(made["remaining_kg"]) == output_g
        # The recorded yield is inside the table's range.
        assert Fraction(known.low) <= Fraction(output_g, input_g) <= Fraction(known.high)
        self.model.add(
            ModelLot(
                made["id"], "transformation", lot.product, target, output_g, output_g, [(lot.id, input_g)]
            )
        )

    # --- the checks after every step ---------------------------------------------------------------

    async def verify(self, op: Operation | None = None) -> None:
        """After each step: every lot's quantities, and projection == ledger; the lineage and
        provenance of the lots the step made (a later event never changes an existing lot's
        ancestry: the final call, with ``op`` None, checks every lot's once more)."""
        await self.verify_quantities()
        assert await ledger_mismatches(self.fresh.lots_db) == []
        for lot_id in list(self.model.lots) if op is None else self.created:
            await self.verify_lineage(lot_id)
            await self.verify_provenance(lot_id)

    async def verify_quantities(self) -> None:
        response = await self.api.get(
            LOTS, params={"cooperative_id": self.cooperative_id, "limit": 500}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        listed = {lot["id"]: lot for lot in decimal_json(response)["items"]}
        # A refused operation created nothing; an accepted one exactly what the model holds.
        assert set(listed) == set(self.model.lots)
        for lot_id, lot in self.model.lots.items():
            seen = listed[lot_id]
            quantity, remaining = grams_of(seen["quantity_kg"]), grams_of(seen["remaining_kg"])
            assert 0 <= remaining <= quantity == lot.quantity_g, seen
            # Conservation: what is gone is exactly what later events drew from the lot.
            assert quantity - remaining == self.model.drawn_g(lot_id), (seen, self.model.drawn_g(lot_id))
            assert remaining == lot.remaining_g
            assert seen["status"] == ("depleted" if remaining == 0 else "active"), seen
            assert (seen["origin"], seen["product"], seen["form"]) == (lot.origin, lot.product, lot.form)

    async def verify_lineage(self, lot_id: str) -> None:
        response = await self.api.get(f"{LOTS}/{lot_id}/lineage", headers=self.headers)
        assert response.status_code == 200, response.text
        lineage = decimal_json(response)
        model = self.model
        ancestors = model.ancestors(lot_id)
        assert {node["lot_id"] for node in lineage["nodes"]} == ancestors | {lot_id}
        edges = {(e["from_lot_id"], e["to_lot_id"], grams_of(e["quantity_kg"])) for e in lineage["edges"]}
        assert edges == model.edges(lot_id)
        shares, contributions = model.shares(lot_id), model.contributions(lot_id)
        deliveries = {d["lot_id"]: d for d in lineage["deliveries"]}
        # Every ancestor delivery, and nothing else.
        assert (
            set(deliveries)
            == set(shares)
            == {d for d in ancestors | {lot_id} if model.lots[d].origin == "delivery"}
        )
        assert sum((d["share_pct"] for d in deliveries.values()), Decimal(0)) == 100
        for delivery_id, node in deliveries.items():
            plot = model.lots[delivery_id].plot
            assert plot is not None
            assert (node["plot_id"], node["farmer_id"]) == (plot.id, plot.farmer_id)
            exact_kg = contributions[delivery_id] / 1000
            assert close(node["contributed_kg"], exact_kg, ONE_GRAM), (node, float(exact_kg))
            exact_pct = percent(shares[delivery_id])
            assert close(node["share_pct"], exact_pct, ONE_UNIT), (node, float(exact_pct))

    async def verify_provenance(self, lot_id: str) -> None:
        response = await self.api.get(f"{LOTS}/{lot_id}/provenance", headers=self.headers)
        assert response.status_code == 200, response.text
        provenance = decimal_json(response)
        model = self.model
        shares, contributions = model.shares(lot_id), model.contributions(lot_id)
        plots: dict[str, Plot] = {}
        by: dict[str, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
        plot_kg: dict[str, Fraction] = defaultdict(Fraction)
        for delivery_id, share in shares.items():
            plot = model.lots[delivery_id].plot
            assert plot is not None
            plots[plot.id] = plot
            by["plots"][plot.id] += share
            by["farmers"][plot.farmer_id] += share
            by["districts"][plot.ubigeo] += share
            by["cooperatives"][self.cooperative_id] += share
            plot_kg[plot.id] += contributions[delivery_id] / 1000
        assert provenance["deliveries"] == len(shares)
        assert grams_of(provenance["quantity_kg"]) == model.lots[lot_id].quantity_g
        keys = {
            "plots": "plot_id",
            "farmers": "farmer_id",
            "districts": "ubigeo",
            "cooperatives": "cooperative_id",
        }
        for kind, key in keys.items():
            entries = provenance[kind]
            # Each breakdown adds up to exactly 100 %.
            assert sum((e["share_pct"] for e in entries), Decimal(0)) == 100, (kind, entries)
            assert {e[key] for e in entries} == set(by[kind]), (kind, entries)
            for entry in entries:
                exact = percent(by[kind][entry[key]])
                assert close(entry["share_pct"], exact, ONE_UNIT), (kind, entry, float(exact))
        for entry in provenance["plots"]:
            # Every ancestor delivery's plot is there, with the farmer and district it was delivered from.
            plot = plots[entry["plot_id"]]
            assert (entry["farmer_id"], entry["ubigeo"]) == (plot.farmer_id, plot.ubigeo)
            assert close(entry["contributed_kg"], plot_kg[plot.id], ONE_GRAM), (
                entry,
                float(plot_kg[plot.id]),
            )


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture
async def fresh(backend: str, tmp_path: Path, signing_key_pem: str) -> AsyncIterator[Fresh]:
    async with fresh_platform(backend, tmp_path, signing_key_pem) as env:
        yield env


async def new_ledger(
    fresh: Fresh, admin_headers: Headers, headers_for: Callable[..., Headers], crops: list[Product]
) -> Ledger:
    """A cooperative of the example's own, with one farmer and one plot per crop given."""
    api = fresh.api
    coop = await create_cooperative(api, admin_headers)
    headers = headers_for("manager", cooperative_id=coop["id"], user_id=f"usr_mgr_{coop['id'][-8:]}")
    ledger = Ledger(api, fresh, headers, coop["id"])
    for index, crop in enumerate(crops):
        farmer = await create_farmer(api, headers, coop["id"])
        ubigeo = UBIGEOS[index % len(UBIGEOS)]
        plot = await create_plot(api, headers, farmer["id"], crop=crop.value, ubigeo=ubigeo)
        assert plot["ubigeo"] == ubigeo, plot
        ledger.plots.append(Plot(plot["id"], farmer["id"], crop, ubigeo))
    return ledger


PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(
    crops=st.lists(st.sampled_from([Product.CACAO, Product.CACAO, Product.COFFEE]), min_size=2, max_size=3),
    first=st.lists(delivery_st, min_size=2, max_size=3),
    operations=operations_st,
)
async def test_random_ledgers_conserve_every_gram_and_trace_every_delivery(
    fresh: Fresh,
    admin_headers: Headers,
    headers_for: Callable[..., Headers],
    crops: list[Product],
    first: list[Deliver],
    operations: list[Operation],
) -> None:
    ledger = await new_ledger(fresh, admin_headers, headers_for, crops)
    for op in [*first, *operations]:
        await ledger.run(op)
        await ledger.verify(op)
    await ledger.verify()


@PROPERTY_SETTINGS
@given(
    grams=st.lists(grams_st, min_size=2, max_size=3),
    operations=st.lists(st.one_of(merge_st, split_st, transform_st), min_size=1, max_size=6),
)
async def test_refused_operations_change_nothing(
    fresh: Fresh,
    admin_headers: Headers,
    headers_for: Callable[..., Headers],
    grams: list[int],
    operations: list[Operation],
) -> None:
    """Only asking for too much, of spent lots, or for impossible yields: every refusal leaves the
    ledger as it was, and the model says which ones are refused."""
    ledger = await new_ledger(fresh, admin_headers, headers_for, [Product.CACAO, Product.CACAO])
    for index, g in enumerate(grams):
        await ledger.run(Deliver(plot=index, form=0, grams=g))
    # The first delivery goes whole into one bag: a depleted lot for the operations marked `spent`.
    await ledger.run(Split(pick=0, permille=1000, weights=(1,), spent=False, over=0))
    await ledger.verify(None)
    for op in operations:
        if isinstance(op, Merge | Split):
            op = replace(op, over=op.over or 1)
        elif isinstance(op, Transform) and op.fault in ("none", "low"):
            op = replace(op, fault="high")
        before = {lot_id: lot.remaining_g for lot_id, lot in ledger.model.lots.items()}
        await ledger.run(op)
        assert {lot_id: lot.remaining_g for lot_id, lot in ledger.model.lots.items()} == before
        await ledger.verify(op)
    await ledger.verify()


@PROPERTY_SETTINGS
@given(
    grams=st.lists(st.integers(min_value=1_000, max_value=300_000), min_size=3, max_size=8),
    permilles=st.lists(st.integers(min_value=10, max_value=1000), min_size=9, max_size=9).map(tuple),
    split_weights=st.lists(st.integers(min_value=1, max_value=100), min_size=2, max_size=3).map(tuple),
)
async def test_shares_of_lots_from_many_deliveries_add_up_to_exactly_100(
    fresh: Fresh,
    admin_headers: Headers,
    headers_for: Callable[..., Headers],
    grams: list[int],
    permilles: tuple[int, ...],
    split_weights: tuple[int, ...],
) -> None:
    """Three plots of three farmers in three districts, many deliveries merged (twice, so that a merge
    holds a merge), the result split: shares with four decimals that must still add up to 100."""
    ledger = await new_ledger(fresh, admin_headers, headers_for, [Product.CACAO] * 3)
    for index, g in enumerate(grams):
        await ledger.run(Deliver(plot=index, form=0, grams=g))
    half = max(2, len(grams) // 2)
    everyone = tuple(range(len(grams)))
    steps: list[Operation] = [
        # The first deliveries, part of each, into one lot (the others are picked among the lots
        # other than the anchor: index 0 is the second delivery).
        Merge(anchor=0, others=everyone[: half - 1], permilles=permilles, mix=False, spent=False, over=0),
        # That merge (the newest active lot) with part of every delivery still active.
        Merge(anchor=-1, others=everyone, permilles=permilles, mix=False, spent=False, over=0),
        # And the newest into bags.
        Split(pick=-1, permille=1000, weights=split_weights, spent=False, over=0),
    ]
    for op in steps:
        await ledger.run(op)
        await ledger.verify(op)  # the lots each step made; deliveries alone are the first test's
    bags = ledger.created
    assert len(bags) == len(split_weights)
    assert all(len(ledger.model.shares(bag)) >= 3 for bag in bags)  # the walk reached every plot
