"""The calendar arithmetic the claims rest on."""

from __future__ import annotations

from datetime import date

import pytest

from services.certification.service.claims import add_months


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2023, 10, 1), 36, date(2026, 10, 1)),
        (date(2024, 2, 29), 36, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 10, 1), -12, date(2025, 10, 1)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected
