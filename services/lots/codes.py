"""Lot codes and the links printed in QR codes (GS1 Digital Link, STANDARDS.md).

A code is written on a sack with a marker and read aloud over a bad phone line, so its alphabet
leaves out what people confuse: 0/O/Q/D, 1/I/L, U/V and 5/S, 2/Z, 8/B. It is random, so it says
nothing about the farmer or the cooperative, and it is URL-safe and inside GS1's character set
for AI (10), so it is also the lot number of a Digital Link.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from stdnum import ean

ALPHABET: Final = "3467ACEFGHJKMNPRTWXY"
CODE_LENGTH: Final = 9
# 20 symbols, 9 places: 5·10^11 codes; at a million lots a fresh code collides about once in 500,000.
CODE_PATTERN: Final = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


_SEPARATORS: Final = re.compile(r"[\s\-.]")


def new_lot_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a person typed → the code: case and the separators people add do not matter."""
    return _SEPARATORS.sub("", text).upper()


def gtin14(gtin: str) -> str:
    """GTIN-8/12/13/14 → the 14-digit form Digital Link uses (left-padded with zeros)."""
    padded = gtin.rjust(14, "0")
    if not ean.is_valid(padded):
        raise ValueError(f"{gtin} is not a valid GTIN")
    return padded


def digital_link(public_base_url: str, code: str, gtin: str | None) -> str:
    base = public_base_url.rstrip("/")
    if gtin:
        return f"{base}/01/{gtin}/10/{code}"
    # STANDARDS.md: a cooperative without a GS1 company prefix still gets a QR code.
    return f"{base}/l/{code}"
