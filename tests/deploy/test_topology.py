from __future__ import annotations

from pathlib import Path

from deploy.topology import nginx_config

ROOT = Path(__file__).resolve().parents[2]


def test_committed_gateway_config_is_generated_from_the_prefix_table() -> None:
    committed = (ROOT / "deploy" / "gateway.conf").read_text(encoding="utf-8")
    assert committed == nginx_config({}), "regenerate with: chacra gateway-config > deploy/gateway.conf"
