"""Errors are RFC 9457 problem documents, and the OpenAPI document says so for every operation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deploy.allinone import create_allinone
from deploy.topology import SERVICES
from shared.db import Database
from shared.settings import Settings

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
CONTRACT_CHECK = Path(__file__).resolve().parents[3] / "shared" / "tools" / "contract_check.py"
METHODS = {"get", "post", "put", "patch", "delete"}
COOPERATIVES_PREFIXES = next(s for s in SERVICES if s.name == "cooperatives").prefixes


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


# --- problem documents --------------------------------------------------------------------------


async def test_a_missing_object_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/cooperatives/coop_missing"), 404, "not_found")
    assert "errors" not in body


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")


async def test_a_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/api/v1/cooperatives"), 405, "method_not_allowed")


async def test_invalid_input_is_a_422_problem_listing_each_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/cooperatives", json={"ruc": "20123456786", "kind": "other"}, headers=admin_headers
    )
    body = assert_problem(response, 422, "validation_failed")
    by_field = {e["field"]: e for e in body["errors"]}
    assert {"name", "kind", "ubigeo"} <= set(by_field)
    assert by_field["name"]["code"] == "missing"
    for error in body["errors"]:
        assert set(error) == {"field", "code", "detail"}
        assert error["detail"]


async def test_a_malformed_query_parameter_names_the_parameter(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/cooperatives?limit=0"), 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["limit"]


# --- the cooperatives app's OpenAPI -------------------------------------------------------------


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


@pytest.mark.parametrize("status", ["401", "403", "409", "422"])
def test_creating_a_cooperative_documents_its_problems(openapi: dict[str, Any], status: str) -> None:
    responses = openapi["paths"]["/api/v1/cooperatives"]["post"]["responses"]
    assert responses[status]["content"][PROBLEM]["schema"] == {"$ref": PROBLEM_REF}


def test_the_problem_schema_is_a_component(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["required"])
    assert "FieldError" in openapi["components"]["schemas"]


def test_fastapis_validation_schema_is_gone(openapi: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(openapi)


def test_every_operation_documents_a_500_problem(openapi: dict[str, Any]) -> None:
    lacking = [f"{m} {p}" for m, p, op in operations(openapi) if "500" not in op["responses"]]
    assert lacking == []
    assert operations(openapi)


def test_every_error_response_is_a_problem(openapi: dict[str, Any]) -> None:
    wrong = [
        f"{m} {p} {status}"
        for m, p, op in operations(openapi)
        for status, response in op["responses"].items()
        if status.isdigit()
        and int(status) >= 400
        and response.get("content", {}).get(PROBLEM, {}).get("schema") != {"$ref": PROBLEM_REF}
    ]
    assert wrong == []


def test_every_component_reference_resolves(openapi: dict[str, Any]) -> None:
    text = json.dumps(openapi)
    refs = {part.split('"', 1)[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs <= set(openapi["components"]["schemas"])


def test_the_service_app_documents_its_operational_routes(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert {"/healthz", "/readyz", "/metrics"} <= set(paths)


# --- contract ------------------------------------------------------------------------------------


def contract_paths() -> set[str]:
    spec = importlib.util.spec_from_file_location("contract_check", CONTRACT_CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.CONTRACT.read_text(encoding="utf-8")
    return {path for _method, path in module.contract_endpoints(text)}


def test_the_contract_lists_identity_and_registry_endpoints() -> None:
    ours = {p for p in contract_paths() if p.startswith(COOPERATIVES_PREFIXES)}
    assert {"/api/v1/auth/token", "/api/v1/cooperatives", "/api/v1/plots/{id}"} <= ours


@pytest.fixture
async def saved_allinone_openapi(
    settings: Settings, db: Database, lots_db: Database, certification_db: Database, tmp_path: Path
) -> Path:
    allinone = create_allinone(
        settings, databases={"cooperatives": db, "lots": lots_db, "certification": certification_db}
    )
    async with (
        allinone.root.router.lifespan_context(allinone.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=allinone), base_url="http://test") as client,
    ):
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    saved = tmp_path / "openapi.json"
    saved.write_bytes(response.content)
    return saved


def test_the_all_in_one_document_has_every_identity_and_registry_endpoint(
    saved_allinone_openapi: Path,
) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed script on a file we wrote
        [sys.executable, str(CONTRACT_CHECK), str(saved_allinone_openapi)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "contract endpoints present" in result.stdout, result.stdout + result.stderr
    missing = [line.split(" ", 2)[2] for line in result.stdout.splitlines() if line.startswith("missing: ")]
    ours = [path for path in missing if path.startswith(COOPERATIVES_PREFIXES)]
    assert ours == []


def test_the_all_in_one_document_has_every_lot_ledger_endpoint(saved_allinone_openapi: Path) -> None:
    result = subprocess.run(  # noqa: S603 - a fixed script on a file we wrote
        [sys.executable, str(CONTRACT_CHECK), str(saved_allinone_openapi)],
        capture_output=True,
        text=True,
        check=False,
    )
    missing = [line.split(" ", 2)[2] for line in result.stdout.splitlines() if line.startswith("missing: ")]
    # QR codes and label sheets are the public side's (issue #5), not the ledger's.
    ledger = [p for p in missing if p.startswith(("/api/v1/lots", "/api/v1/fairs")) and "qr." not in p]
    assert [p for p in ledger if "labels.pdf" not in p] == []
