"""The coca-free window is a setting (CHACRA_COCA_FREE_WINDOW_MONTHS)."""

from __future__ import annotations

import httpx
import pytest

from shared.settings import Settings
from tests.certification.calls import Body, claims, deliver_from, verify
from tests.conftest import make_settings
from tests.factories import Origin


@pytest.fixture
def settings(database_url: str, signing_key_pem: str) -> Settings:
    return make_settings(database_url, signing_key_pem, coca_free_window_months=18)


async def test_a_longer_window_accepts_an_older_verification(
    api: httpx.AsyncClient, origin: Origin, body: Body
) -> None:
    await verify(api, body, origin.plot["id"], on="2025-05-01")
    lot = await deliver_from(api, origin, origin.plot, harvested_on="2026-10-01")

    claim = (await claims(api, lot["id"]))["coca_free"]

    assert claim["status"] == "verified"
    assert "18 months" in claim["reason"]
