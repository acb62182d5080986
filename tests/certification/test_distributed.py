"""Three real processes on PostgreSQL: cooperatives, lots and certification, each with its own database.

The certification process knows its peers only by URL. A lot's claims asked over HTTP must equal
the claims an all-in-one app computes in this process, on the same three databases, through
in-process clients. These tests start their own servers and databases, so they run once.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.allinone import create_allinone
from shared.db import Database
from tests.certification.calls import next_corner, square
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.factories import Origin, create_cooperative, create_farmer, create_plot, deliver
from tests.lots.test_distributed import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CHACRA,
    START_TIMEOUT_SECONDS,
    Server,
    _login,
    clean_environment,
    free_port,
    public_key,
    start_server,
)

pytestmark = pytest.mark.postgres_only
__all__ = ["public_key"]  # a fixture this module uses
SERVICES = ("cooperatives", "lots", "certification")


@dataclass
class Trio:
    servers: dict[str, Server]
    urls: dict[str, str]


@contextmanager
def running_trio(workdir: Path, signing_key_pem: str, public_key: str) -> Iterator[Trio]:
    servers: dict[str, Server] = {}
    urls: dict[str, str] = {}
    try:
        for name in SERVICES:
            urls[name] = create_pg_database()
        common = {
            "CHACRA_LOG_JSON": "false",
            "CHACRA_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'unused.db'}",
        }
        servers["cooperatives"] = start_server(
            "cooperatives",
            {
                **common,
                "CHACRA_COOPERATIVES__DATABASE_URL": urls["cooperatives"],
                "CHACRA_AUTH__PRIVATE_KEY": signing_key_pem,
                "CHACRA_ADMIN_USERNAME": ADMIN_USERNAME,
                "CHACRA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            },
            workdir,
        )
        servers["lots"] = start_server(
            "lots",
            {
                **common,
                "CHACRA_LOTS__DATABASE_URL": urls["lots"],
                "CHACRA_COOPERATIVES__URL": servers["cooperatives"].base,
                "CHACRA_AUTH__PUBLIC_KEY": public_key,
            },
            workdir,
        )
        servers["certification"] = start_server(
            "certification",
            {
                **common,
                "CHACRA_CERTIFICATION__DATABASE_URL": urls["certification"],
                "CHACRA_COOPERATIVES__URL": servers["cooperatives"].base,
                "CHACRA_LOTS__URL": servers["lots"].base,
                "CHACRA_AUTH__PRIVATE_KEY": signing_key_pem,
            },
            workdir,
        )
        for server in servers.values():
            server.wait_ready()
        yield Trio(servers, urls)
    finally:
        for server in reversed(list(servers.values())):
            server.stop()
        for url in urls.values():
            drop_pg_database(url)


@dataclass
class Scene:
    trio: Trio
    clients: dict[str, httpx.AsyncClient]
    manager: dict[str, str]
    certifier: dict[str, str]
    lot: dict[str, Any]
    plots: list[dict[str, Any]]


async def _populate(trio: Trio, clients: dict[str, httpx.AsyncClient]) -> Scene:
    """Through HTTP only: a body and its certifier, a cooperative with two plots, a merged lot."""
    registry, ledger, certification = clients["cooperatives"], clients["lots"], clients["certification"]
    admin = await _login(registry, ADMIN_USERNAME, ADMIN_PASSWORD)
    body = await certification.post(
        "/api/v1/certifying-bodies",
        json={"name": "Control Union", "code": "PE-BIO-149", "standards": ["EU_2018_848"]},
        headers=admin,
    )
    assert body.status_code == 201, body.text
    coop = await create_cooperative(registry, admin, products=["cacao"])
    users = [
        ("gerente.trio", "manager", {"cooperative_id": coop["id"]}),
        ("certificador.trio", "certifier", {"certifying_body_id": body.json()["id"]}),
    ]
    for username, role, extra in users:
        created = await registry.post(
            "/api/v1/users",
            json={"username": username, "password": ADMIN_PASSWORD, "role": role, **extra},
            headers=admin,
        )
        assert created.status_code == 201, created.text
    manager = await _login(registry, "gerente.trio", ADMIN_PASSWORD)
    certifier = await _login(registry, "certificador.trio", ADMIN_PASSWORD)
    farmer = await create_farmer(registry, manager, coop["id"])
    plots = [
        await create_plot(
            registry, manager, farmer["id"], geometry=square(*next_corner()), organic_since=since
        )
        for since in ("2020-01-01", "2025-01-01")
    ]
    lots = [await deliver(ledger, Origin(coop, farmer, plot, manager), "100") for plot in plots]
    merged = await ledger.post(
        "/api/v1/lots/merge",
        json={"inputs": [{"lot_id": lot["id"], "quantity_kg": "100"} for lot in lots]},
        headers=manager,
    )
    assert merged.status_code == 201, merged.text
    certificate = {
        "number": "CU-PE-2026-0001",
        "certifying_body_id": body.json()["id"],
        "standard": "EU_2018_848",
        "cooperative_id": coop["id"],
        "products": ["cacao"],
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "scope": {"farmer_ids": [farmer["id"]]},
    }
    issued = await certification.post("/api/v1/certificates", json=certificate, headers=certifier)
    assert issued.status_code == 201, issued.text
    verification = {
        "plot_id": plots[0]["id"],
        "kind": "coca_free",
        "result": "pass",
        "verified_on": "2026-08-01",
        "method": "field_visit",
        "verifier": "DEVIDA",
    }
    assert (
        await certification.post("/api/v1/verifications", json=verification, headers=certifier)
    ).status_code == 201
    return Scene(trio, clients, manager, certifier, merged.json(), plots)


@pytest.fixture(scope="module")
async def scene(
    tmp_path_factory: pytest.TempPathFactory, signing_key_pem: str, public_key: str
) -> AsyncIterator[Scene]:
    with running_trio(tmp_path_factory.mktemp("trio"), signing_key_pem, public_key) as trio:
        clients = {
            name: httpx.AsyncClient(base_url=server.base, timeout=30) for name, server in trio.servers.items()
        }
        try:
            yield await _populate(trio, clients)
        finally:
            for client in clients.values():
                await client.aclose()


def without_time(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != "computed_at"}


async def test_claims_over_http_equal_claims_computed_in_process(scene: Scene, signing_key_pem: str) -> None:
    lot_id = scene.lot["id"]
    over_http = await scene.clients["certification"].get(f"/api/v1/claims/lots/{lot_id}")
    assert over_http.status_code == 200, over_http.text

    databases = {name: Database(url) for name, url in scene.trio.urls.items()}
    platform = create_allinone(
        make_settings(scene.trio.urls["certification"], signing_key_pem), databases=databases
    )
    try:
        async with (
            platform.root.router.lifespan_context(platform.root),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://test") as local,
        ):
            in_process = await local.get(f"/api/v1/claims/lots/{lot_id}")
    finally:
        for db in databases.values():
            await db.dispose()

    assert in_process.status_code == 200, in_process.text
    assert without_time(over_http.json()) == without_time(in_process.json())
    claims = over_http.json()
    assert claims["organic"]["EU_2018_848"]["status"] == "not_verified"
    assert scene.plots[1]["id"] in claims["organic"]["EU_2018_848"]["reason"]
    assert "conversion" in claims["organic"]["EU_2018_848"]["reason"]
    assert claims["coca_free"]["status"] == "not_verified"
    assert [e["plot_id"] for e in claims["coca_free"]["evidence"]] == [scene.plots[0]["id"]]


async def test_the_eudr_file_comes_through_three_processes(scene: Scene) -> None:
    response = await scene.clients["certification"].get(
        f"/api/v1/claims/lots/{scene.lot['id']}/eudr.geojson", headers=scene.manager
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["features"]) == 2


def test_the_certification_process_will_not_start_without_the_ledger_url(
    tmp_path: Path, signing_key_pem: str
) -> None:
    env = {
        **clean_environment(),
        "CHACRA_LOG_JSON": "false",
        "CHACRA_CERTIFICATION__DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'certification.db'}",
        "CHACRA_COOPERATIVES__URL": "http://127.0.0.1:9",
        "CHACRA_AUTH__PRIVATE_KEY": signing_key_pem,
    }
    try:
        finished = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [str(CHACRA), "serve", "--target", "certification", "--port", str(free_port())],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the certification process kept running without CHACRA_LOTS__URL: {exc.output!r}")
    assert finished.returncode != 0
    assert "CHACRA_LOTS__URL" in finished.stderr + finished.stdout
