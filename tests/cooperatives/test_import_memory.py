from __future__ import annotations

import random

from services.cooperatives.imports.cooperatives import _SeenRucs


def test_seen_rucs_finds_every_repeat_across_merges_with_its_first_line() -> None:
    rng = random.Random(3)
    rucs = [rng.randrange(20_000_000_000, 20_999_999_999) for _ in range(3 * _SeenRucs.MERGE_EVERY + 17)]
    seen = _SeenRucs()
    first: dict[int, int] = {}
    for line, ruc in enumerate(rucs + rucs[::7], start=2):
        previous = seen.add(ruc, line)
        assert previous == first.get(ruc)
        first.setdefault(ruc, line)
