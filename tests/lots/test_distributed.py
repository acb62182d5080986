"""The service border with real processes: ``cooperatives`` and ``lots`` as two servers on loopback.

Each process has its own PostgreSQL database; the lots process knows the registry only by its URL
and verifies tokens with the public key alone. A delivery recorded at the lots process is checked
over HTTP against the cooperatives process; with that process gone, the answer is a 503 problem
and the ledger stays as it was. These tests start their own servers and databases, so they run
once (PostgreSQL), not once per backend.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import public_key_pem
from tests.conftest import create_pg_database, drop_pg_database
from tests.factories import Origin, create_cooperative, create_farmer, create_plot, deliver

pytestmark = pytest.mark.postgres_only

CHACRA = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "chacra"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
ADMIN_USERNAME = "root"
ADMIN_PASSWORD = "a-long-admin-password"
MANAGER_PASSWORD = "a-long-manager-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """The test runner's environment without any CHACRA_ setting, so only ours count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CHACRA_")}


@dataclass
class Server:
    """One ``chacra serve --target …`` process, its log, and its base URL."""

    target: str
    base: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: BinaryIO = field(repr=False)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert self.process.poll() is None, f"{self.target} exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{self.target} not ready:\n{self.output()}"
            time.sleep(0.2)

    def stop(self) -> None:
        """Terminate, then kill if it will not go; safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()


def start_server(target: str, env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / f"{target}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [str(CHACRA), "serve", "--target", target, "--host", "127.0.0.1", "--port", str(port)],
        env={**clean_environment(), **env},
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Server(target, f"http://127.0.0.1:{port}", process, log_path, log)


@dataclass
class Cluster:
    cooperatives: Server
    lots: Server
    workdir: Path


@pytest.fixture(scope="session")
def public_key(signing_key_pem: str) -> str:
    key = serialization.load_pem_private_key(signing_key_pem.encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return public_key_pem(key)


@contextmanager
def running_cluster(workdir: Path, signing_key_pem: str, public_key: str) -> Iterator[Cluster]:
    """Both services as real processes, each on its own fresh PostgreSQL database; always cleaned up."""
    servers: list[Server] = []
    urls: list[str] = []
    try:
        cooperatives_url = create_pg_database()
        urls.append(cooperatives_url)
        lots_url = create_pg_database()
        urls.append(lots_url)
        common = {
            "CHACRA_LOG_JSON": "false",
            # Any fallback to the shared URL would show up as this file in the work directory.
            "CHACRA_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'must-stay-unused.db'}",
        }
        cooperatives = start_server(
            "cooperatives",
            {
                **common,
                "CHACRA_COOPERATIVES__DATABASE_URL": cooperatives_url,
                "CHACRA_AUTH__PRIVATE_KEY": signing_key_pem,
                "CHACRA_AUTH__SIGNING_KEY_FILE": str(workdir / "cooperatives-must-not-write-a-key.pem"),
                "CHACRA_ADMIN_USERNAME": ADMIN_USERNAME,
                "CHACRA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            },
            workdir,
        )
        servers.append(cooperatives)
        lots = start_server(
            "lots",
            {
                **common,
                "CHACRA_LOTS__DATABASE_URL": lots_url,
                "CHACRA_COOPERATIVES__URL": cooperatives.base,
                "CHACRA_AUTH__PUBLIC_KEY": public_key,
                "CHACRA_AUTH__SIGNING_KEY_FILE": str(workdir / "lots-must-not-write-a-key.pem"),
                "CHACRA_SERVICE_TIMEOUT_SECONDS": "5",
            },
            workdir,
        )
        servers.append(lots)
        cooperatives.wait_ready()
        lots.wait_ready()
        yield Cluster(cooperatives, lots, workdir)
    finally:
        for server in reversed(servers):
            server.stop()
        for url in urls:
            drop_pg_database(url)


@dataclass
class World:
    """What the tests act with: clients for both processes, a manager's origin, its first lot."""

    cluster: Cluster
    registry: httpx.AsyncClient
    ledger: httpx.AsyncClient
    origin: Origin
    lot: dict[str, Any]


async def _login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@asynccontextmanager
async def populated(cluster: Cluster) -> AsyncIterator[World]:
    """Through HTTP only: admin login, a cooperative, its manager, a farmer, a plot, one delivery."""
    async with (
        httpx.AsyncClient(base_url=cluster.cooperatives.base, timeout=30) as registry,
        httpx.AsyncClient(base_url=cluster.lots.base, timeout=30) as ledger,
    ):
        admin = await _login(registry, ADMIN_USERNAME, ADMIN_PASSWORD)
        coop = await create_cooperative(registry, admin, products=["cacao"])
        created = await registry.post(
            "/api/v1/users",
            json={
                "username": "gerente.distribuido",
                "password": MANAGER_PASSWORD,
                "role": "manager",
                "cooperative_id": coop["id"],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        manager = await _login(registry, "gerente.distribuido", MANAGER_PASSWORD)
        farmer = await create_farmer(registry, manager, coop["id"])
        plot = await create_plot(registry, manager, farmer["id"], crop="cacao")
        origin = Origin(coop, farmer, plot, manager)
        lot = await deliver(ledger, origin, "250.5")
        yield World(cluster, registry, ledger, origin, lot)


# Starting two processes takes seconds, so each scenario starts them once for its tests (none of
# which changes what the others look at).


@pytest.fixture(scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory, signing_key_pem: str, public_key: str
) -> AsyncIterator[World]:
    with running_cluster(tmp_path_factory.mktemp("cluster"), signing_key_pem, public_key) as cluster:
        async with populated(cluster) as world:
            yield world


@pytest.fixture(scope="module")
async def registry_down(
    tmp_path_factory: pytest.TempPathFactory, signing_key_pem: str, public_key: str
) -> AsyncIterator[World]:
    """A cluster whose cooperatives process was stopped after the first delivery."""
    with running_cluster(tmp_path_factory.mktemp("cluster-down"), signing_key_pem, public_key) as cluster:
        async with populated(cluster) as world:
            cluster.cooperatives.stop()
            assert cluster.cooperatives.process.returncode is not None
            yield world


async def test_a_delivery_recorded_at_the_lots_process_is_checked_against_the_registry_process(
    world: World,
) -> None:
    lot = world.lot
    assert lot["cooperative_id"] == world.origin.cooperative_id
    assert lot["farmer_id"] == world.origin.farmer["id"]
    assert lot["plot_id"] == world.origin.plot["id"]
    assert lot["quantity_kg"] == 250.5
    assert lot["status"] == "active"


async def test_a_delivery_reads_back_from_the_lots_process(world: World) -> None:
    response = await world.ledger.get(f"/api/v1/lots/{world.lot['id']}", headers=world.origin.headers)
    assert response.status_code == 200, response.text
    read = response.json()
    assert read == world.lot


async def test_the_provenance_shows_the_plot_from_the_registry(world: World) -> None:
    response = await world.ledger.get(
        f"/api/v1/lots/{world.lot['id']}/provenance", headers=world.origin.headers
    )
    assert response.status_code == 200, response.text
    provenance = response.json()
    plots = provenance["plots"]
    assert [p["plot_id"] for p in plots] == [world.origin.plot["id"]]
    assert plots[0]["plot_name"] == world.origin.plot["name"]
    assert plots[0]["farmer_id"] == world.origin.farmer["id"]
    assert plots[0]["share_pct"] == 100
    assert [c["cooperative_id"] for c in provenance["cooperatives"]] == [world.origin.cooperative_id]


async def test_an_unknown_plot_is_refused_through_the_registry_process(world: World) -> None:
    response = await world.ledger.post(
        "/api/v1/lots",
        json={
            "cooperative_id": world.origin.cooperative_id,
            "farmer_id": world.origin.farmer["id"],
            "plot_id": "plot_0000000000000000000000000000dead",
            "product": "cacao",
            "form": "baba",
            "quantity_kg": "10",
            "harvested_on": "2026-10-01",
        },
        headers=world.origin.headers,
    )
    assert response.status_code == 422, response.text
    assert "plot_id" in [e["field"] for e in response.json()["errors"]]


async def test_neither_process_falls_back_to_the_shared_database_url(world: World) -> None:
    assert world.lot["id"]
    assert not (world.cluster.workdir / "must-stay-unused.db").exists()


async def test_neither_process_writes_a_signing_key_when_given_one(world: World) -> None:
    assert world.lot["id"]
    assert not (world.cluster.workdir / "cooperatives-must-not-write-a-key.pem").exists()
    assert not (world.cluster.workdir / "lots-must-not-write-a-key.pem").exists()


async def test_with_the_registry_down_a_delivery_is_a_503_problem_and_nothing_is_written(
    registry_down: World,
) -> None:
    world = registry_down
    before = await world.ledger.get("/api/v1/lots", headers=world.origin.headers)
    assert before.status_code == 200, before.text

    response = await world.ledger.post(
        "/api/v1/lots",
        json={
            "cooperative_id": world.origin.cooperative_id,
            "farmer_id": world.origin.farmer["id"],
            "plot_id": world.origin.plot["id"],
            "product": "cacao",
            "form": "baba",
            "quantity_kg": "75",
            "harvested_on": "2026-10-01",
        },
        headers=world.origin.headers,
    )

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "cooperatives_unavailable"
    assert problem["status"] == 503
    after = await world.ledger.get("/api/v1/lots", headers=world.origin.headers)
    assert after.status_code == 200, after.text
    assert [lot["id"] for lot in after.json()["items"]] == [world.lot["id"]]
    assert after.json() == before.json()
    assert world.cluster.lots.process.poll() is None, world.cluster.lots.output()


async def test_the_lots_process_keeps_serving_reads_with_the_registry_down(registry_down: World) -> None:
    world = registry_down
    response = await world.ledger.get(f"/api/v1/lots/{world.lot['id']}", headers=world.origin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == world.lot


def test_the_lots_process_will_not_start_without_the_registry_url(tmp_path: Path, public_key: str) -> None:
    env = {
        **clean_environment(),
        "CHACRA_LOG_JSON": "false",
        "CHACRA_LOTS__DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lots.db'}",
        "CHACRA_AUTH__PUBLIC_KEY": public_key,
    }
    try:
        finished = subprocess.run(  # noqa: S603 - our own command, fixed arguments
            [str(CHACRA), "serve", "--target", "lots", "--host", "127.0.0.1", "--port", str(free_port())],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed it: it was serving without a registry
        pytest.fail(f"the lots process kept running without CHACRA_COOPERATIVES__URL: {exc.output!r}")
    assert finished.returncode != 0
    assert "CHACRA_COOPERATIVES__URL" in finished.stderr + finished.stdout
