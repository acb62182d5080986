"""The registry's facts a page shows are asked once a minute, not once a page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from services.cooperatives.client import CoarseMap, CooperativeRead
from services.cooperatives.schemas import CooperativeKind, Product
from services.lots.public.registry import MAX_REMEMBERED, RememberedRegistry
from shared.errors import ServiceUnavailable


class CountingRegistry:
    def __init__(self) -> None:
        self.asked: list[object] = []
        self.failing = False

    async def get_cooperative(self, cooperative_id: str) -> CooperativeRead:
        self.asked.append(cooperative_id)
        if self.failing:
            raise ServiceUnavailable("registry down")
        now = datetime.now(UTC)
        return CooperativeRead(
            id=cooperative_id,
            name=f"Cooperativa {len(self.asked)}",
            ruc="20123456786",
            kind=CooperativeKind.COOPERATIVE,
            ubigeo="220901",
            region="San Martín",
            province="San Martín",
            district="Tarapoto",
            products=[Product.CACAO],
            gs1_company_prefix=None,
            gln=None,
            gtins=None,
            created_at=now,
            updated_at=now,
        )

    async def get_map(self, ubigeos: Sequence[str]) -> CoarseMap:
        self.asked.append(tuple(ubigeos))
        return CoarseMap(outline=[(-75.0, -10.0)], places=[])


async def test_a_cooperative_is_asked_once_a_minute_and_then_again() -> None:
    now = [0.0]
    inner = CountingRegistry()
    registry = RememberedRegistry(inner, clock=lambda: now[0])
    first = await registry.get_cooperative("coop_a")
    now[0] = 59.0
    assert await registry.get_cooperative("coop_a") is first
    assert (await registry.get_cooperative("coop_b")).name == "Cooperativa 2"
    assert inner.asked == ["coop_a", "coop_b"]
    now[0] = 60.0  # a rename shows at the next build after the minute
    assert (await registry.get_cooperative("coop_a")).name == "Cooperativa 3"
    assert inner.asked == ["coop_a", "coop_b", "coop_a"]


async def test_maps_are_remembered_by_the_districts_asked() -> None:
    inner = CountingRegistry()
    registry = RememberedRegistry(inner, clock=lambda: 0.0)
    await registry.get_map(["220901", "100101"])
    await registry.get_map(["220901", "100101"])
    await registry.get_map(["220901"])
    assert inner.asked == [("220901", "100101"), ("220901",)]


async def test_an_error_is_not_remembered() -> None:
    inner = CountingRegistry()
    registry = RememberedRegistry(inner, clock=lambda: 0.0)
    inner.failing = True
    with pytest.raises(ServiceUnavailable):
        await registry.get_cooperative("coop_a")
    inner.failing = False
    assert (await registry.get_cooperative("coop_a")).id == "coop_a"
    assert inner.asked == ["coop_a", "coop_a"]


async def test_it_remembers_a_bounded_number_least_recently_kept_out_first() -> None:
    inner = CountingRegistry()
    registry = RememberedRegistry(inner, clock=lambda: 0.0)
    for n in range(MAX_REMEMBERED + 1):
        await registry.get_cooperative(f"coop_{n}")
    await registry.get_cooperative(f"coop_{MAX_REMEMBERED}")  # still there
    await registry.get_cooperative("coop_0")  # the first kept went out
    assert inner.asked[-1] == "coop_0" and len(inner.asked) == MAX_REMEMBERED + 2
