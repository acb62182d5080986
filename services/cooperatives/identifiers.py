"""Peruvian and GS1 identifiers, checked with python-stdnum rather than by hand."""

from __future__ import annotations

from stdnum import ean
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pe import cui, ruc

from services.cooperatives.reference import District, districts
from shared.errors import ValidationFailed

LEGAL_ENTITY_PREFIX = "20"


def validate_ruc(value: str, field: str = "ruc") -> str:
    try:
        number: str = ruc.validate(value)
    except StdnumError as exc:
        raise ValidationFailed.single(
            field, "ruc_invalid", f"'{value}' is not a valid RUC: {str(exc).lower().rstrip('.')}."
        ) from exc
    if not number.startswith(LEGAL_ENTITY_PREFIX):
        raise ValidationFailed.single(
            field,
            "ruc_not_legal_entity",
            f"RUC {number} belongs to a natural person; "
            "a cooperative or association has a RUC starting with 20.",
        )
    return number


def validate_dni(value: str, field: str = "dni") -> str:
    try:
        number: str = cui.validate(value)
    except StdnumError as exc:
        raise ValidationFailed.single(
            field, "dni_invalid", f"'{value}' is not a valid DNI: 8 digits."
        ) from exc
    # A CUI may carry a check character after the 8 digits; the DNI itself is the 8 digits.
    return number[:8]


def lookup_ubigeo(value: str, field: str = "ubigeo") -> District:
    code = value.strip()
    if len(code) != 6 or not code.isdigit():
        raise ValidationFailed.single(field, "ubigeo_format", f"'{value}' is not a 6-digit INEI ubigeo.")
    district = districts().get(code)
    if district is None:
        raise ValidationFailed.single(field, "ubigeo_unknown", f"No district has ubigeo {code} (INEI).")
    return district


def validate_company_prefix(value: str, field: str = "gs1_company_prefix") -> str:
    if not value.isdigit() or not 6 <= len(value) <= 12:
        raise ValidationFailed.single(
            field, "gs1_company_prefix_invalid", "A GS1 company prefix is 6 to 12 digits."
        )
    return value


def validate_gln(value: str, field: str = "gln") -> str:
    if len(value) != 13:
        raise ValidationFailed.single(field, "gln_invalid", "A GLN is 13 digits.")
    try:
        number: str = ean.validate(value)
    except StdnumError as exc:
        raise ValidationFailed.single(
            field, "gln_invalid", f"'{value}' is not a valid GLN (check digit)."
        ) from exc
    return number


def validate_gtin14(value: str, field: str) -> str:
    """GTIN-8/12/13/14 with a valid check digit, returned left-padded to 14 digits (GS1 Digital Link)."""
    try:
        number: str = ean.validate(value)
    except StdnumError as exc:
        raise ValidationFailed.single(
            field, "gtin_invalid", f"'{value}' is not a valid GTIN (check digit)."
        ) from exc
    return number.zfill(14)
