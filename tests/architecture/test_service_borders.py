"""A service talks to a peer only through the peer's ``client.py`` (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def foreign_imports(service: str) -> list[str]:
    wrong = []
    for path in sorted((ROOT / "services" / service).rglob("*.py")):
        for module in imported_modules(path):
            parts = module.split(".")
            if len(parts) >= 3 and parts[0] == "services" and parts[1] != service:
                if parts[2] != "client":
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
            elif len(parts) == 2 and parts[0] == "services" and parts[1] in SERVICES and parts[1] != service:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    return wrong


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_its_peers_only_through_their_client(service: str) -> None:
    assert foreign_imports(service) == []


def test_the_lots_service_does_talk_to_the_registry_through_its_client() -> None:
    # The check above must be able to see an import at all: lots really does use the client.
    modules = set().union(*(imported_modules(p) for p in (ROOT / "services" / "lots").rglob("*.py")))
    assert "services.cooperatives.client" in modules
