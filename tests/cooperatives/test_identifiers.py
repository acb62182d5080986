"""Peruvian (RUC, DNI, ubigeo) and GS1 (GTIN, GLN) identifiers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from stdnum import ean
from stdnum.pe import cui, ruc

from services.cooperatives.identifiers import (
    lookup_ubigeo,
    validate_dni,
    validate_gln,
    validate_gtin14,
    validate_ruc,
)
from shared.errors import ValidationFailed


def with_check_digit(body: str) -> str:
    return body + ruc.calc_check_digit(body)


def with_ean_check(body: str) -> str:
    return body + ean.calc_check_digit(body)


def wrong_last_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def refused(check: Callable[[str], object], value: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        check(value)
    return info.value


def assert_rule(error: ValidationFailed, code: str, field: str) -> None:
    assert error.instance_code == code
    assert error.errors is not None
    assert (error.errors[0].code, error.errors[0].field) == (code, field)


# RUC


def test_legal_entity_ruc_with_its_check_digit_is_accepted() -> None:
    number = with_check_digit("2013456789")
    assert validate_ruc(number) == number


def test_ruc_with_a_wrong_check_digit_is_invalid() -> None:
    number = wrong_last_digit(with_check_digit("2013456789"))
    assert_rule(refused(validate_ruc, number), "ruc_invalid", "ruc")


def test_natural_person_ruc_is_not_a_legal_entity() -> None:
    number = with_check_digit("1045678901")
    assert ruc.is_valid(number)  # valid as a RUC, just not a cooperative's
    assert_rule(refused(validate_ruc, number), "ruc_not_legal_entity", "ruc")


@pytest.mark.parametrize(
    "number", ["2013456789", "201345678901", ""], ids=["10-digits", "12-digits", "empty"]
)
def test_ruc_of_wrong_length_is_invalid(number: str) -> None:
    assert_rule(refused(validate_ruc, number), "ruc_invalid", "ruc")


def test_ruc_with_an_unknown_prefix_is_invalid() -> None:
    assert_rule(refused(validate_ruc, with_check_digit("3013456789")), "ruc_invalid", "ruc")


def test_ruc_error_names_the_field_given() -> None:
    error = refused(lambda v: validate_ruc(v, field="rows.3.ruc"), "123")
    assert error.errors is not None and error.errors[0].field == "rows.3.ruc"


# DNI


def test_eight_digit_dni_is_accepted() -> None:
    assert validate_dni("45678901") == "45678901"


def test_cui_with_its_check_character_gives_back_the_eight_digit_dni() -> None:
    number = "45678901" + cui.calc_check_digits("45678901")[0]
    assert validate_dni(number) == "45678901"


@pytest.mark.parametrize("value", ["4567890", "4567890A", "ABCDEFGH", "456789012345"])
def test_dni_that_is_not_eight_digits_is_invalid(value: str) -> None:
    assert_rule(refused(validate_dni, value), "dni_invalid", "dni")


# ubigeo


def test_tarapoto_ubigeo_is_san_martin_district_of_its_province() -> None:
    district = lookup_ubigeo("220901")
    assert (district.ubigeo, district.region, district.province, district.district) == (
        "220901",
        "San Martín",
        "San Martín",
        "Tarapoto",
    )


def test_ubigeo_surrounding_spaces_are_ignored() -> None:
    assert lookup_ubigeo(" 220901 ").district == "Tarapoto"


def test_ubigeo_of_no_district_is_unknown() -> None:
    assert_rule(refused(lookup_ubigeo, "999999"), "ubigeo_unknown", "ubigeo")


@pytest.mark.parametrize("value", ["22090", "2209011", "22O901", ""], ids=["5", "7", "letter", "empty"])
def test_ubigeo_that_is_not_six_digits_is_a_format_error(value: str) -> None:
    assert_rule(refused(lookup_ubigeo, value), "ubigeo_format", "ubigeo")


# GTIN


def test_gtin13_is_left_padded_to_fourteen_digits() -> None:
    gtin13 = with_ean_check("775012345678")
    assert validate_gtin14(gtin13, "gtins.cacao") == "0" + gtin13


def test_gtin8_is_left_padded_to_fourteen_digits() -> None:
    gtin8 = with_ean_check("7750123")
    assert validate_gtin14(gtin8, "gtins.cacao") == "000000" + gtin8


def test_gtin14_is_kept() -> None:
    gtin14 = with_ean_check("1077501234567")
    assert validate_gtin14(gtin14, "gtins.coffee") == gtin14


@pytest.mark.parametrize("body", ["775012345678", "1077501234567"], ids=["gtin13", "gtin14"])
def test_gtin_with_a_wrong_check_digit_is_invalid(body: str) -> None:
    error = refused(lambda v: validate_gtin14(v, "gtins.coffee"), wrong_last_digit(with_ean_check(body)))
    assert_rule(error, "gtin_invalid", "gtins.coffee")


def test_gtin_with_letters_is_invalid() -> None:
    error = refused(lambda v: validate_gtin14(v, "gtins.cacao"), "77501234567AB")
    assert_rule(error, "gtin_invalid", "gtins.cacao")


# GLN


def test_gln_with_its_check_digit_is_accepted() -> None:
    gln = with_ean_check("775012345678")
    assert validate_gln(gln) == gln


def test_gln_with_a_wrong_check_digit_is_invalid() -> None:
    assert_rule(refused(validate_gln, wrong_last_digit(with_ean_check("775012345678"))), "gln_invalid", "gln")


@pytest.mark.parametrize("body", ["7750123", "1077501234567"], ids=["8-digits", "14-digits"])
def test_gln_of_other_length_is_invalid_even_with_a_valid_check_digit(body: str) -> None:
    number = with_ean_check(body)
    assert ean.is_valid(number)
    assert_rule(refused(validate_gln, number), "gln_invalid", "gln")
