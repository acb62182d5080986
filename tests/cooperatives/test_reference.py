"""The reference data shipped with the registry: INEI ubigeo districts and Peru's outline."""

from __future__ import annotations

import csv
import re
from importlib import resources

import pytest
from shapely.geometry import Point

from services.cooperatives.reference import (
    district_places,
    districts,
    fold,
    nearest_district,
    nearest_districts,
    peru,
    regions,
)


def ubigeo_rows() -> list[dict[str, str]]:
    text = resources.files("services.cooperatives").joinpath("data", "ubigeo.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_ubigeo_table_has_all_1873_districts() -> None:
    assert len(districts()) == 1873


def test_ubigeo_csv_has_no_duplicate_codes() -> None:
    codes = [row["ubigeo"] for row in ubigeo_rows()]
    assert len(codes) == len(set(codes)) == 1873


def test_every_ubigeo_is_a_six_digit_string_keyed_by_itself() -> None:
    assert all(re.fullmatch(r"\d{6}", code) for code in districts())
    assert all(district.ubigeo == code for code, district in districts().items())


def test_there_are_25_departments_coded_01_to_25() -> None:
    assert sorted(regions()) == [f"{n:02d}" for n in range(1, 26)]


def test_each_department_code_has_one_name() -> None:
    names: dict[str, set[str]] = {}
    for code, district in districts().items():
        names.setdefault(code[:2], set()).add(district.region)
    assert all(len(found) == 1 for found in names.values()), names


def test_each_province_code_has_one_name() -> None:
    names: dict[str, set[str]] = {}
    for code, district in districts().items():
        names.setdefault(code[:4], set()).add(district.province)
    assert all(len(found) == 1 for found in names.values())


@pytest.mark.parametrize(
    ("code", "department"),
    [
        ("01", "Amazonas"),
        ("08", "Cusco"),
        ("10", "Huánuco"),
        ("16", "Loreto"),
        ("22", "San Martín"),
        ("25", "Ucayali"),
    ],
)
def test_department_names_keep_their_accents(code: str, department: str) -> None:
    assert regions()[code] == department


@pytest.mark.parametrize(
    ("code", "names"),
    [
        ("100601", ("Huánuco", "Leoncio Prado", "Rupa-Rupa")),
        ("250101", ("Ucayali", "Coronel Portillo", "Calleria")),  # as the source spells it
        ("220901", ("San Martín", "San Martín", "Tarapoto")),
        ("160101", ("Loreto", "Maynas", "Iquitos")),
        ("150101", ("Lima", "Lima", "Lima")),
        ("080101", ("Cusco", "Cusco", "Cusco")),
    ],
)
def test_known_district_has_its_department_province_and_name(code: str, names: tuple[str, str, str]) -> None:
    district = districts()[code]
    assert (district.region, district.province, district.district) == names


def test_fold_drops_accents_and_case() -> None:
    assert fold("  San Martín ") == "san martin"
    assert fold("HUÁNUCO") == "huanuco"


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(-77.0428, -12.0464), (-76.3656, -6.4825), (-73.2472, -3.7491), (-71.9675, -13.5319)],
    ids=["lima", "tarapoto", "iquitos", "cusco"],
)
def test_peru_outline_contains_peruvian_cities(lon: float, lat: float) -> None:
    assert peru().covers(Point(lon, lat))


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (-68.1193, -16.4897),
        (-78.4678, -0.1807),
        (-72.7900, -1.4400),
        (-70.2339, 1.2538),
        (-67.8243, -9.9747),
        (-70.3126, -18.4783),
    ],
    ids=["la-paz", "quito", "la-chorrera-colombia", "mitu-colombia", "rio-branco", "arica-chile"],
)
def test_peru_outline_excludes_cities_of_neighbouring_countries(lon: float, lat: float) -> None:
    assert not peru().covers(Point(lon, lat))


def test_district_places_are_all_known_districts() -> None:
    places = district_places()
    assert len(places) > 1000
    assert set(places) <= set(districts())


def test_every_district_place_lies_inside_peru() -> None:
    outside = [code for code, (lon, lat) in district_places().items() if not peru().covers(Point(lon, lat))]
    assert outside == []


def test_district_places_are_longitude_then_latitude() -> None:
    lon, lat = district_places()["220901"]  # Tarapoto
    assert lon == pytest.approx(-76.37, abs=0.05)
    assert lat == pytest.approx(-6.49, abs=0.05)


@pytest.mark.parametrize(
    ("lon", "lat", "ubigeo"),
    [
        (-76.359614, -6.489937, "220901"),  # tests.factories.TARAPOTO_POLYGON's centroid: Tarapoto
        (-76.971234, -6.031234, "220101"),  # Moyobamba
        (-73.251234, -3.751234, "160101"),  # Iquitos
    ],
)
def test_nearest_district_is_the_one_whose_place_is_nearest(lon: float, lat: float, ubigeo: str) -> None:
    assert nearest_district(lon, lat).ubigeo == ubigeo


def test_every_district_place_is_its_own_nearest_district() -> None:
    places = district_places()
    codes = sorted(places)
    found = nearest_districts([places[c][0] for c in codes], [places[c][1] for c in codes])
    mismatched = {c: d.ubigeo for c, d in zip(codes, found, strict=True) if d.ubigeo != c}
    # Only districts that share their place with a namesake, where the lower ubigeo stands for both.
    assert mismatched == {
        "021202": "020508",
        "090707": "090106",
        "110207": "110107",
        "120806": "120423",
        "120810": "120433",
        "151021": "150122",
        "150514": "150134",
        "151018": "150712",
        "200608": "200406",
        "210808": "210504",
    }


def test_a_batch_gets_the_same_districts_as_one_point_at_a_time() -> None:
    lons = [-76.359614 + k * 0.37 for k in range(-8, 9)]
    lats = [-6.489937 - k * 0.41 for k in range(-8, 9)]
    assert nearest_districts(lons, lats) == [nearest_district(x, y) for x, y in zip(lons, lats, strict=True)]
    assert nearest_districts([], []) == []


def test_a_coordinate_that_is_not_a_number_has_no_nearest_district() -> None:
    with pytest.raises(ValueError, match="finite"):
        nearest_districts([-76.36, float("nan")], [-6.49, -6.49])
