"""Opaque, random identifiers: a short type prefix and 128 bits of randomness."""

from __future__ import annotations

import secrets

ID_LENGTH = 40


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"
