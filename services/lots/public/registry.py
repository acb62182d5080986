"""The registry's facts a public page shows — a cooperative's name and place, the coarse map —
remembered for a minute.

Every page of a cooperative's lots shows the same cooperative and, mostly, the same districts: when a
fair's catalogue is built ahead, or a burst of first scans builds pages, asking the registry again
for each page is most of a page's cost (an in-process request through its whole stack, or a network
round trip). A page shows a renamed cooperative at its next build after the minute.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from services.cooperatives.client import CoarseMap, CooperativeRead

REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 1024
K = TypeVar("K")
V = TypeVar("V")


class Registry(Protocol):
    async def get_cooperative(self, cooperative_id: str) -> CooperativeRead: ...

    async def get_map(self, ubigeos: Sequence[str]) -> CoarseMap: ...


class RememberedRegistry:
    """A Registry that asks the one it wraps at most once a minute for the same thing. Only answers
    are remembered: an error (registry down, unknown district) is raised again at the next ask."""

    def __init__(
        self,
        registry: Registry,
        *,
        seconds: float = REMEMBER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._seconds = seconds
        self._clock = clock
        self._cooperatives: OrderedDict[str, tuple[float, CooperativeRead]] = OrderedDict()
        self._maps: OrderedDict[tuple[str, ...], tuple[float, CoarseMap]] = OrderedDict()

    async def get_cooperative(self, cooperative_id: str) -> CooperativeRead:
        found = self._recall(self._cooperatives, cooperative_id)
        if found is None:
            found = await self._registry.get_cooperative(cooperative_id)
            self._keep(self._cooperatives, cooperative_id, found)
        return found

    async def get_map(self, ubigeos: Sequence[str]) -> CoarseMap:
        key = tuple(ubigeos)
        found = self._recall(self._maps, key)
        if found is None:
            found = await self._registry.get_map(ubigeos)
            self._keep(self._maps, key, found)
        return found

    def _recall(self, memory: OrderedDict[K, tuple[float, V]], key: K) -> V | None:
        kept = memory.get(key)
        if kept is None:
            return None
        at, value = kept
        if self._clock() - at >= self._seconds:
            del memory[key]
            return None
        return value

    def _keep(self, memory: OrderedDict[K, tuple[float, V]], key: K, value: V) -> None:
        memory[key] = (self._clock(), value)
        memory.move_to_end(key)
        while len(memory) > MAX_REMEMBERED:
            memory.popitem(last=False)
