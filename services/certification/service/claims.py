"""A lot's claims, computed from every delivery in its lineage at the time of asking (issue #4).

Each delivery is judged on its own — its plot, on its harvest date — and the lot gets the worst
verdict of its deliveries (failed < not_verified < verified): one uncovered kilo makes the whole lot
not organic, and a merge's claims are the conjunction of its inputs'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from services.certification.schemas import (
    Claims,
    ClaimStatus,
    CocaFreeClaim,
    DeforestationFreeClaim,
    Evidence,
    OrganicClaim,
    Standard,
)
from services.certification.service.evidence import PlotEvidence
from services.certification.service.peers import Delivery, LotOrigin
from shared.db import utcnow

# EU 2018/848 Annex II Part I 1.7.5: perennial crops (cacao, coffee) convert for three years.
CONVERSION_MONTHS = 36
# Regulation (EU) 2023/1115 Art. 2(13): deforestation after 31 December 2020 disqualifies.
DEFORESTATION_CUTOFF = date(2020, 12, 31)
REASONS_SHOWN = 10
RANK = {ClaimStatus.FAILED: 0, ClaimStatus.NOT_VERIFIED: 1, ClaimStatus.VERIFIED: 2}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's end (29 Feb → 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(f"no such month: {year}-{month}")


@dataclass(slots=True)
class Verdict:
    status: ClaimStatus
    reason: str
    certificate_ids: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(slots=True)
class Tally:
    """The verdicts of every delivery for one claim, folded into the lot's."""

    status: ClaimStatus = ClaimStatus.VERIFIED
    problems: dict[ClaimStatus, list[str]] = field(default_factory=dict)
    certificate_ids: set[str] = field(default_factory=set)
    evidence: dict[str, Evidence] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        if RANK[verdict.status] < RANK[self.status]:
            self.status = verdict.status
        if verdict.status is not ClaimStatus.VERIFIED:
            reasons = self.problems.setdefault(verdict.status, [])
            if verdict.reason not in reasons:
                reasons.append(verdict.reason)
        self.certificate_ids.update(verdict.certificate_ids)
        for item in verdict.evidence:
            self.evidence[item.verification_id] = item

    def reason(self, verified: str) -> str:
        if self.status is ClaimStatus.VERIFIED:
            return verified
        shown = self.problems[self.status]
        more = len(shown) - REASONS_SHOWN
        text = "; ".join(shown[:REASONS_SHOWN])
        return f"{text}; and {more} more" if more > 0 else text


def organic_verdict(delivery: Delivery, found: PlotEvidence | None, standard: Standard) -> Verdict:
    plot_id, harvest = delivery.plot_id, delivery.harvested_on
    if found is None:
        return Verdict(ClaimStatus.NOT_VERIFIED, f"plot {plot_id} is not in the registry")
    plot = found.plot
    candidates = [
        c
        for c in found.certificates
        if c.standard == standard.value
        and delivery.product in c.products
        and c.cooperative_id == plot.cooperative_id
    ]
    valid = [c for c in candidates if c.valid_from <= harvest <= c.valid_to]
    active = [c for c in valid if c.status == "active"]
    if not valid:
        if candidates:
            spans = ", ".join(f"{c.number} ({c.valid_from}–{c.valid_to})" for c in candidates)
            return Verdict(
                ClaimStatus.NOT_VERIFIED,
                f"plot {plot_id} harvested on {harvest} is outside the validity of {spans}",
            )
        return Verdict(
            ClaimStatus.NOT_VERIFIED, f"plot {plot_id} is not in the scope of a {standard} certificate"
        )
    if not active:
        stopped = ", ".join(f"{c.number} is {c.status}" for c in valid)
        return Verdict(ClaimStatus.FAILED, f"plot {plot_id}: certificate {stopped}")
    if plot.organic_since is None:
        return Verdict(ClaimStatus.NOT_VERIFIED, f"plot {plot_id} has no organic conversion start recorded")
    converted_on = add_months(plot.organic_since, CONVERSION_MONTHS)
    if harvest < converted_on:
        return Verdict(
            ClaimStatus.NOT_VERIFIED,
            f"plot {plot_id} was in conversion on {harvest} (organic from {converted_on})",
        )
    return Verdict(ClaimStatus.VERIFIED, "", certificate_ids=sorted(c.id for c in active))


def coca_free_verdict(delivery: Delivery, found: PlotEvidence | None, window_months: int) -> Verdict:
    plot_id, harvest = delivery.plot_id, delivery.harvested_on
    if found is None:
        return Verdict(ClaimStatus.NOT_VERIFIED, f"plot {plot_id} is not in the registry")
    since = add_months(harvest, -window_months)
    recent = [v for v in found.verifications if v.kind == "coca_free" and since <= v.verified_on <= harvest]
    failing = [v for v in recent if v.result == "fail"]
    if failing:
        first = min(failing, key=lambda v: v.verified_on)
        return Verdict(
            ClaimStatus.FAILED, f"plot {plot_id} failed its coca-free verification of {first.verified_on}"
        )
    passing = max((v for v in recent if v.result == "pass"), key=lambda v: v.verified_on, default=None)
    coca = [f for f in found.features if f.kind == "coca"]
    if passing is not None:
        coca = [f for f in coca if f.dated_on is not None and f.dated_on >= passing.verified_on]
    if coca:
        hit = min(coca, key=lambda f: (f.dated_on or harvest, f.label))
        return Verdict(
            ClaimStatus.FAILED,
            f"plot {plot_id} intersects coca feature {hit.label} of layer {hit.layer_id} "
            f"observed on {hit.dated_on}",
        )
    if passing is None:
        return Verdict(
            ClaimStatus.NOT_VERIFIED,
            f"plot {plot_id} has no passing coca-free verification in the {window_months} months "
            f"before its harvest on {harvest}",
        )
    evidence = Evidence(
        plot_id=plot_id, verification_id=passing.id, verified_on=passing.verified_on, method=passing.method
    )
    return Verdict(ClaimStatus.VERIFIED, "", evidence=[evidence])


def deforestation_free_verdict(delivery: Delivery, found: PlotEvidence | None) -> Verdict:
    plot_id = delivery.plot_id
    if found is None:
        return Verdict(ClaimStatus.NOT_VERIFIED, f"plot {plot_id} is not in the registry")
    for feature in sorted(found.features, key=lambda f: (f.kind, f.label)):
        if feature.kind == "forest_loss" and feature.dated_on and feature.dated_on > DEFORESTATION_CUTOFF:
            return Verdict(
                ClaimStatus.FAILED,
                f"plot {plot_id} intersects forest-loss feature {feature.label} of layer "
                f"{feature.layer_id} (loss on {feature.dated_on}, after {DEFORESTATION_CUTOFF})",
            )
        if feature.kind == "protected_area":
            return Verdict(
                ClaimStatus.FAILED,
                f"plot {plot_id} lies in protected area {feature.name or feature.label} "
                f"(layer {feature.layer_id})",
            )
    checks = sorted(
        (v for v in found.verifications if v.kind == "deforestation_free"),
        key=lambda v: (v.verified_on, v.id),
    )
    if checks and checks[-1].result == "fail":
        return Verdict(
            ClaimStatus.FAILED,
            f"plot {plot_id} failed its deforestation-free verification of {checks[-1].verified_on}",
        )
    if checks or found.loss_layer_covers:
        return Verdict(ClaimStatus.VERIFIED, "")
    return Verdict(
        ClaimStatus.NOT_VERIFIED,
        f"plot {plot_id} has no deforestation-free verification and no forest-loss layer covers it",
    )


def _organic(evidence: dict[str, PlotEvidence], standard: Standard, delivery: Delivery) -> Verdict:
    return organic_verdict(delivery, evidence.get(delivery.plot_id), standard)


def _tally(deliveries: Iterable[Delivery], judge: Callable[[Delivery], Verdict]) -> Tally:
    tally = Tally()
    for delivery in deliveries:
        tally.add(judge(delivery))
    return tally


def judge_lot(origin: LotOrigin, evidence: dict[str, PlotEvidence], *, window_months: int) -> Claims:
    deliveries = origin.deliveries
    count = len({d.plot_id for d in deliveries})
    if not deliveries:
        # A lot whose lineage reaches no delivery has no known plot: nothing can be claimed for it.
        reason = "the lot traces to no delivery from a plot"
        unknown = ClaimStatus.NOT_VERIFIED
        return Claims(
            lot_id=origin.lot_id,
            organic={s: OrganicClaim(status=unknown, certificate_ids=[], reason=reason) for s in Standard},
            coca_free=CocaFreeClaim(status=unknown, evidence=[], reason=reason),
            deforestation_free=DeforestationFreeClaim(status=unknown, reason=reason),
            computed_at=utcnow(),
        )
    organic: dict[Standard, OrganicClaim] = {}
    for standard in Standard:
        tally = _tally(deliveries, partial(_organic, evidence, standard))
        organic[standard] = OrganicClaim(
            status=tally.status,
            certificate_ids=sorted(tally.certificate_ids) if tally.status is ClaimStatus.VERIFIED else [],
            reason=tally.reason(
                f"every delivery ({count} plots) is covered by an active {standard} certificate on its "
                "harvest date, from a plot past conversion"
            ),
        )
    coca = _tally(deliveries, lambda d: coca_free_verdict(d, evidence.get(d.plot_id), window_months))
    forest = _tally(deliveries, lambda d: deforestation_free_verdict(d, evidence.get(d.plot_id)))
    return Claims(
        lot_id=origin.lot_id,
        organic=organic,
        coca_free=CocaFreeClaim(
            status=coca.status,
            evidence=sorted(coca.evidence.values(), key=lambda e: (e.plot_id, e.verification_id)),
            reason=coca.reason(
                f"every plot ({count}) passed a coca-free verification within {window_months} months "
                "before its harvest, and no coca observed since touches it"
            ),
        ),
        deforestation_free=DeforestationFreeClaim(
            status=forest.status,
            reason=forest.reason(
                f"every plot ({count}) has a deforestation-free verification or a clean forest-loss "
                f"check, no loss after {DEFORESTATION_CUTOFF} and no protected area"
            ),
        ),
        computed_at=utcnow(),
    )
