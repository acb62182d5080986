"""Property: the claims of a merge are the conjunction of its inputs' claims.

Hypothesis draws two to four plots, each in or out of a certificate's scope, converted or not, with
or without passing or failing verifications, and whether the certificate is then suspended. Each
plot delivers a lot; the lots are merged. For every claim the merge must be exactly as good as its
worst input: failed beats not_verified beats verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.certification.calls import Body, certify, change, claims, deliver_from, merge, new_plot, verify
from tests.factories import Origin

RANK = {"failed": 0, "not_verified": 1, "verified": 2}
Check = Literal["none", "pass", "fail"]


@dataclass(frozen=True)
class PlotCase:
    in_scope: bool
    converted: bool
    coca: Check
    deforestation: Check
    harvested_on: str


plot_cases = st.builds(
    PlotCase,
    in_scope=st.booleans(),
    converted=st.booleans(),
    coca=st.sampled_from(["none", "pass", "fail"]),
    deforestation=st.sampled_from(["none", "pass", "fail"]),
    harvested_on=st.sampled_from(["2026-03-15", "2026-10-01"]),
)


def statuses(found: dict[str, object]) -> dict[str, str]:
    organic = found["organic"]
    assert isinstance(organic, dict)
    result = {f"organic.{standard}": claim["status"] for standard, claim in organic.items()}
    for name in ("coca_free", "deforestation_free"):
        claim = found[name]
        assert isinstance(claim, dict)
        result[name] = claim["status"]
    return result


@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=st.lists(plot_cases, min_size=2, max_size=4), suspend=st.booleans())
async def test_a_merge_claims_exactly_the_conjunction_of_its_inputs(
    api: httpx.AsyncClient, origin: Origin, body: Body, cases: list[PlotCase], suspend: bool
) -> None:
    plots = [
        await new_plot(api, origin, organic_since="2020-01-01" if case.converted else "2025-01-01")
        for case in cases
    ]
    for case, plot in zip(cases, plots, strict=True):
        for kind, check in (("coca_free", case.coca), ("deforestation_free", case.deforestation)):
            if check != "none":
                await verify(api, body, plot["id"], kind=kind, result=check, on="2026-02-01")
    scope = [plot["id"] for case, plot in zip(cases, plots, strict=True) if case.in_scope]
    if scope:
        certificate = await certify(api, body, origin, scope={"plot_ids": scope})
        if suspend:
            assert (await change(api, body, certificate["id"], "suspend")).status_code == 200
    inputs = [
        await deliver_from(api, origin, plot, harvested_on=case.harvested_on)
        for case, plot in zip(cases, plots, strict=True)
    ]
    merged = await merge(api, origin.headers, inputs)

    each = [statuses(await claims(api, lot["id"])) for lot in inputs]
    together = statuses(await claims(api, merged["id"]))

    for name, status in together.items():
        assert status == min((s[name] for s in each), key=RANK.__getitem__), (name, each, together)
