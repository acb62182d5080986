"""The all-in-one process: dispatch by prefix, operational routes, merged docs, and the real server."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from deploy.allinone import create_allinone
from deploy.topology import SERVICES, nginx_config, owner_of
from shared.db import Database
from shared.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.factories import cooperative_body

CHACRA = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "chacra"
START_TIMEOUT_SECONDS = 30
ALL_PREFIXES = [(route.name, prefix) for route in SERVICES for prefix in route.prefixes]


@pytest.fixture
async def allinone_client(
    settings: Settings, db: Database, lots_db: Database, certification_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    allinone = create_allinone(
        settings, databases={"cooperatives": db, "lots": lots_db, "certification": certification_db}
    )
    async with (
        allinone.root.router.lifespan_context(allinone.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=allinone), base_url="http://test") as client,
    ):
        yield client


# --- in process ---------------------------------------------------------------------------------


async def test_healthz_answers(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "all"}


async def test_readyz_answers_when_every_database_does(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "service": "all"}


async def test_metrics_count_requests_to_the_services(allinone_client: httpx.AsyncClient) -> None:
    assert (await allinone_client.get("/api/v1/cooperatives")).status_code == 200
    response = await allinone_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = [line for line in response.text.splitlines() if line.startswith("chacra_http_requests_total{")]
    assert any('service="cooperatives"' in line for line in samples), response.text[:2000]


async def test_openapi_merges_every_services_paths(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Chacra API"
    for _service, prefix in ALL_PREFIXES:
        assert any(path.startswith(prefix) for path in schema["paths"]), prefix
    assert "Problem" in schema["components"]["schemas"]
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]


async def test_docs_serve_swagger_ui_on_the_merged_document(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


async def test_the_root_redirects_to_the_docs(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/")
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/docs"


async def test_registry_paths_reach_the_cooperatives_app(
    allinone_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await allinone_client.post(
        "/api/v1/cooperatives", json=cooperative_body(), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    read = await allinone_client.get(f"/api/v1/cooperatives/{created.json()['id']}")
    assert read.status_code == 200
    assert read.json() == created.json()


async def test_an_unowned_path_is_a_404_problem_from_the_root(allinone_client: httpx.AsyncClient) -> None:
    response = await allinone_client.get("/api/v1/cooperativesX")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


# --- topology -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "prefix"), ALL_PREFIXES)
def test_owner_of_picks_the_service_for_its_prefix(service: str, prefix: str) -> None:
    for path in (prefix, f"{prefix}/", f"{prefix}/abc/def"):
        route = owner_of(path)
        assert route is not None and route.name == service, path


@pytest.mark.parametrize(("service", "prefix"), ALL_PREFIXES)
def test_owner_of_does_not_match_a_longer_word(service: str, prefix: str) -> None:
    assert owner_of(f"{prefix}X") is None
    assert owner_of(f"{prefix}-extra/1") is None


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/api/v1", "/api/v2/cooperatives"])
def test_owner_of_leaves_other_paths_to_the_root(path: str) -> None:
    assert owner_of(path) is None


def test_nginx_config_routes_every_prefix_to_its_upstream() -> None:
    upstreams = {route.name: f"http://{route.name}-svc:9000" for route in SERVICES}
    config = nginx_config(upstreams)
    for service, prefix in ALL_PREFIXES:
        for location in (f"= {prefix}", f"{prefix}/"):
            block = config.split(f"    location {location} {{\n", 1)[1].split("}", 1)[0]
            assert f"proxy_pass http://{service}-svc:9000;" in block


# --- a real server process -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHACRA_")}
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [str(CHACRA), "serve", "--port", str(port), *args],
        env={**clean, **env},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def server_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CHACRA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chacra.db'}",
        "CHACRA_AUTH__SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "CHACRA_ADMIN_USERNAME": "root",
        "CHACRA_ADMIN_PASSWORD": "a-long-admin-password",
        "CHACRA_LOG_JSON": "false",
    }


def log_in_and_register_a_cooperative(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/token", data={"username": "root", "password": "a-long-admin-password"}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = http.post("/api/v1/cooperatives", json=cooperative_body(), headers=headers)
        assert created.status_code == 201, created.text
        assert http.get(f"/api/v1/cooperatives/{created.json()['id']}").status_code == 200


def test_the_all_in_one_server_starts_and_serves_the_admin(tmp_path: Path) -> None:
    with running_server(tmp_path, server_env(tmp_path)) as base:
        log_in_and_register_a_cooperative(base)
        health = httpx.get(f"{base}/healthz")
        assert health.json()["service"] == "all"
        assert "server" not in health.headers  # the software is not announced
        assert "date" in health.headers  # RFC 9110 §6.6.1: an origin server with a clock sends it
    assert (tmp_path / "signing-key.pem").is_file()
    assert (tmp_path / "chacra.db").is_file()


def test_the_cooperatives_target_serves_from_its_own_postgresql_database(tmp_path: Path) -> None:
    url = create_pg_database()
    try:
        # The shared URL points at a file that must stay unused: the service setting wins.
        env = {**server_env(tmp_path), "CHACRA_COOPERATIVES__DATABASE_URL": url}
        with running_server(tmp_path, env, "--target", "cooperatives") as base:
            log_in_and_register_a_cooperative(base)
            assert httpx.get(f"{base}/healthz").json()["service"] == "cooperatives"
        assert not (tmp_path / "chacra.db").exists()
    finally:
        drop_pg_database(url)
