"""CSV imports of cooperatives and of farmers with their plots (API.md, Registry).

Streamed row by row from a binary file (an upload is spooled to disk), validated with the same rules
as the single-object endpoints, written in multi-row INSERT batches, all or nothing: one bad row
and the request's transaction is rolled back. Every bad row is reported with line, column and rule.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives import repository
from services.cooperatives.geo import parse_geometry_text, validate_plot_geometry
from services.cooperatives.identifiers import lookup_ubigeo, validate_dni, validate_ruc
from services.cooperatives.models import Cooperative, Farmer, Plot
from services.cooperatives.reference import fold
from services.cooperatives.schemas import CooperativeCreate, FarmerCreate, ImportResult, ImportRowError
from services.cooperatives.service import _check_gs1, _search_text
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.ids import new_id

COOPERATIVE_COLUMNS = ("name", "ruc", "kind", "ubigeo", "products")
COOPERATIVE_OPTIONAL = ("gs1_company_prefix", "gln")
FARMER_COLUMNS = (
    "farmer_name",
    "dni",
    "gender",
    "joined_on",
    "public_name_consent",
    "plot_name",
    "crop",
    "geometry",
    "area_ha",
    "altitude_m",
    "organic_since",
)
FARMER_REQUIRED = ("farmer_name", "plot_name", "crop", "geometry")
_TRUE = {"true", "1", "yes", "si", "sí", "y", "s"}
_FALSE = {"false", "0", "no", "n", ""}
_GENDERS = {
    "f": "female",
    "female": "female",
    "femenino": "female",
    "mujer": "female",
    "m": "male",
    "male": "male",
    "masculino": "male",
    "hombre": "male",
    "other": "other",
    "otro": "other",
    "undisclosed": "undisclosed",
    "": "",
}
Progress = Callable[[int], None]


class ImportFailed(ValidationFailed):
    code = "import_invalid"
    title = "The file has invalid rows; nothing was imported"


class RowError(Exception):
    def __init__(self, column: str | None, code: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.code, self.detail = column, code, detail


@dataclass
class _Report:
    max_errors: int
    rows: int = 0
    created: int = 0
    plots_created: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    truncated: bool = False

    def fail(self, line: int, column: str | None, code: str, detail: str) -> None:
        if len(self.errors) >= self.max_errors:
            self.truncated = True
            return
        self.errors.append(ImportRowError(line=line, column=column, code=code, detail=detail))

    def result(self, *, dry_run: bool, with_plots: bool) -> ImportResult:
        if self.errors:
            extra: dict[str, Any] = {
                "created": 0,
                "rows": self.rows,
                "dry_run": dry_run,
                "errors": [e.model_dump() for e in self.errors],
                "errors_truncated": self.truncated,
            }
            raise ImportFailed(
                f"{len(self.errors)}{'+' if self.truncated else ''} invalid row(s); nothing was imported.",
                extra=extra,
            )
        return ImportResult(
            created=0 if dry_run else self.created,
            rows=self.rows,
            dry_run=dry_run,
            plots_created=(0 if dry_run else self.plots_created) if with_plots else None,
        )


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw, self._progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        if self._progress is not None:
            self._progress(len(data))
        return len(data)


def _rows(
    stream: IO[bytes],
    progress: Progress | None,
    report: _Report,
    required: tuple[str, ...],
    known: tuple[str, ...],
) -> Iterator[tuple[int, dict[str, str]]]:
    # utf-8-sig accepts the BOM that spreadsheet programs write.
    text = io.TextIOWrapper(
        io.BufferedReader(_CountingReader(stream, progress)), encoding="utf-8-sig", newline=""
    )
    reader = csv.DictReader(text)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except UnicodeDecodeError:
        report.fail(1, None, "encoding", "The file is not UTF-8 text.")
        return
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in known]
    for column in missing:
        report.fail(1, column, "missing_column", f"The header has no '{column}' column.")
    for column in unknown:
        report.fail(1, column, "unknown_column", f"'{column}' is not a column of this import.")
    if missing or unknown:
        return
    try:
        for row in reader:
            if None in row:
                report.rows += 1
                report.fail(
                    reader.line_num, None, "too_many_fields", "The row has more fields than the header."
                )
                continue
            report.rows += 1
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
    except UnicodeDecodeError:
        report.fail(reader.line_num + 1, None, "encoding", "The file is not UTF-8 text.")
    except csv.Error as exc:
        report.fail(reader.line_num, None, "csv_malformed", f"Not valid CSV: {exc}.")


def _pydantic_errors(exc: ValidationError, columns: dict[str, str]) -> RowError:
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else None
    return RowError(columns.get(name or "", name), str(first["type"]), first["msg"])


def _domain_error(exc: DomainError, columns: dict[str, str] | None = None) -> RowError:
    column = exc.errors[0].field.split(".")[0] if exc.errors else None
    if columns and column in columns:
        column = columns[column]
    return RowError(column, exc.instance_code, exc.detail)


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _bool(value: str, column: str) -> bool:
    folded = fold(value)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise RowError(column, "bool_invalid", f"'{value}' is not true or false.")


# cooperatives


def _cooperative_row(row: dict[str, str]) -> dict[str, Any]:
    try:
        data = CooperativeCreate.model_validate(
            {
                **{k: row[k] for k in ("name", "ruc", "kind", "ubigeo")},
                "products": _list(row["products"]),
                "gs1_company_prefix": row.get("gs1_company_prefix") or None,
                "gln": row.get("gln") or None,
            }
        )
    except ValidationError as exc:
        raise _pydantic_errors(exc, {}) from exc
    try:
        ruc = validate_ruc(data.ruc)
        district = lookup_ubigeo(data.ubigeo)
        products = sorted({p.value for p in data.products})
        _check_gs1(products, data.gs1_company_prefix, data.gln, None)
    except DomainError as exc:
        raise _domain_error(exc) from exc
    return {
        "id": new_id("coop"),
        "name": data.name,
        "ruc": ruc,
        "kind": data.kind.value,
        "ubigeo": district.ubigeo,
        "region": district.region,
        "province": district.province,
        "district": district.district,
        "products": products,
        "gs1_company_prefix": data.gs1_company_prefix,
        "gln": data.gln,
        "gtins": None,
        "search_text": _search_text(data.name, ruc),
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


async def import_cooperatives(
    session: AsyncSession,
    stream: IO[bytes],
    *,
    dry_run: bool,
    batch_rows: int,
    max_errors: int,
    progress: Progress | None = None,
) -> ImportResult:
    report = _Report(max_errors)
    seen: dict[str, int] = {}
    batch: list[tuple[int, dict[str, Any]]] = []

    async def flush() -> None:
        taken = await repository.existing_rucs(session, (r["ruc"] for _, r in batch))
        for line, r in batch:
            if r["ruc"] in taken:
                report.fail(
                    line, "ruc", "ruc_taken", f"A cooperative with RUC {r['ruc']} is already registered."
                )
        if not report.errors and not dry_run:
            await repository.bulk_insert(session, Cooperative, [r for _, r in batch])
            report.created += len(batch)
        batch.clear()

    for line, row in _rows(
        stream, progress, report, COOPERATIVE_COLUMNS, COOPERATIVE_COLUMNS + COOPERATIVE_OPTIONAL
    ):
        try:
            values = _cooperative_row(row)
        except RowError as exc:
            report.fail(line, exc.column, exc.code, exc.detail)
            continue
        if values["ruc"] in seen:
            report.fail(
                line,
                "ruc",
                "ruc_duplicate_in_file",
                f"RUC {values['ruc']} is also on line {seen[values['ruc']]}.",
            )
            continue
        seen[values["ruc"]] = line
        batch.append((line, values))
        if len(batch) >= batch_rows:
            await flush()
    await flush()
    return report.result(dry_run=dry_run, with_plots=False)


# farmers with plots

_FARMER_FIELDS = {
    "name": "farmer_name",
    "dni": "dni",
    "gender": "gender",
    "joined_on": "joined_on",
    "public_name_consent": "public_name_consent",
}
_PLOT_FIELDS = {"name": "plot_name", "area_ha": "area_ha", "geometry": "geometry"}


def _optional_decimal(value: str, column: str) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise RowError(column, "number_invalid", f"'{value}' is not a number.") from exc
    if not number.is_finite() or number <= 0:
        raise RowError(column, "number_invalid", f"'{value}' must be a positive number.")
    return number


def _optional_int(value: str, column: str, low: int, high: int) -> int | None:
    if not value:
        return None
    if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
        raise RowError(column, "number_invalid", f"'{value}' must be a whole number from {low} to {high}.")
    return int(value)


def _optional_date(value: str, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise RowError(column, "date_invalid", f"'{value}' is not a date (YYYY-MM-DD).") from exc


def _farmer_row(row: dict[str, str]) -> FarmerCreate:
    gender = _GENDERS.get(fold(row.get("gender", "")))
    if gender is None:
        raise RowError(
            "gender", "gender_invalid", f"'{row['gender']}' is not one of female, male, other, undisclosed."
        )
    try:
        data = FarmerCreate.model_validate(
            {
                "name": row["farmer_name"],
                "dni": row.get("dni") or None,
                "gender": gender or None,
                "joined_on": _optional_date(row.get("joined_on", ""), "joined_on"),
                "public_name_consent": _bool(row.get("public_name_consent", ""), "public_name_consent"),
            }
        )
    except ValidationError as exc:
        raise _pydantic_errors(exc, _FARMER_FIELDS) from exc
    if data.dni:
        try:
            data.dni = validate_dni(data.dni)
        except DomainError as exc:
            raise _domain_error(exc) from exc
    return data


def _plot_row(row: dict[str, str], products: list[str]) -> dict[str, Any]:
    crop = row["crop"].lower()
    if crop not in products:
        raise RowError("crop", "crop_not_offered", f"'{row['crop']}' is not a product of this cooperative.")
    if not row["plot_name"]:
        raise RowError("plot_name", "missing", "Every row needs a plot_name.")
    area = _optional_decimal(row.get("area_ha", ""), "area_ha")
    try:
        checked = validate_plot_geometry(parse_geometry_text(row["geometry"]), area_ha=area)
    except DomainError as exc:
        raise _domain_error(exc, _PLOT_FIELDS) from exc
    return {
        "name": row["plot_name"][:200],
        "crop": crop,
        "geometry_type": checked.type,
        "geometry": checked.geojson,
        "area_ha": checked.area_ha,
        "centroid_lon": checked.centroid_lon,
        "centroid_lat": checked.centroid_lat,
        "altitude_m": _optional_int(row.get("altitude_m", ""), "altitude_m", 0, 6000),
        "organic_since": _optional_date(row.get("organic_since", ""), "organic_since"),
    }


async def import_farmers(
    session: AsyncSession,
    principal: Principal,
    stream: IO[bytes],
    *,
    cooperative_id: str,
    dry_run: bool,
    batch_rows: int,
    max_errors: int,
    progress: Progress | None = None,
) -> ImportResult:
    coop = await repository.get_cooperative(session, cooperative_id)
    if coop is None or not principal.can_write_cooperative(cooperative_id):
        raise NotFound("No such cooperative.")
    report = _Report(max_errors)
    # Rows with the same DNI (or, lacking one, the same name) are one farmer (API.md).
    farmers: dict[str, tuple[str, str, int]] = {}  # key -> (farmer id, folded name, first line)
    new_farmers: list[tuple[int, str, dict[str, Any]]] = []  # (line, dni, values)
    plots: list[dict[str, Any]] = []

    async def flush() -> None:
        existing = await repository.farmers_by_dni(
            session, cooperative_id, (d for _, d, _ in new_farmers if d)
        )
        inserts, remap = [], {}
        for _line, dni, values in new_farmers:
            if dni and dni in existing:
                # A member already registered: the plots join that farmer instead of a duplicate.
                remap[values["id"]] = existing[dni]
                key = f"dni:{dni}"
                farmers[key] = (existing[dni], *farmers[key][1:])
            else:
                inserts.append(values)
        for plot in plots:
            plot["farmer_id"] = remap.get(plot["farmer_id"], plot["farmer_id"])
        if not report.errors and not dry_run:
            await repository.bulk_insert(session, Farmer, inserts)
            await repository.bulk_insert(session, Plot, plots)
            report.created += len(inserts)
            report.plots_created += len(plots)
        new_farmers.clear()
        plots.clear()

    for line, row in _rows(stream, progress, report, FARMER_REQUIRED, FARMER_COLUMNS):
        try:
            farmer = _farmer_row(row)
            plot = _plot_row(row, coop.products)
        except RowError as exc:
            report.fail(line, exc.column, exc.code, exc.detail)
            continue
        key = f"dni:{farmer.dni}" if farmer.dni else f"name:{fold(farmer.name)}"
        known = farmers.get(key)
        if known is None:
            farmer_id = new_id("farm")
            farmers[key] = (farmer_id, fold(farmer.name), line)
            new_farmers.append(
                (
                    line,
                    farmer.dni or "",
                    {
                        "id": farmer_id,
                        "cooperative_id": cooperative_id,
                        "name": farmer.name,
                        "dni": farmer.dni,
                        "gender": farmer.gender.value if farmer.gender else None,
                        "joined_on": farmer.joined_on,
                        "public_name_consent": farmer.public_name_consent,
                        "created_at": utcnow(),
                    },
                )
            )
        else:
            farmer_id, name, first_line = known
            if name != fold(farmer.name):
                report.fail(
                    line,
                    "farmer_name",
                    "farmer_inconsistent",
                    f"DNI {farmer.dni} is named differently on line {first_line}.",
                )
                continue
        plots.append(
            {
                "id": new_id("plot"),
                "farmer_id": farmer_id,
                "cooperative_id": cooperative_id,
                "created_at": utcnow(),
                **plot,
            }
        )
        if len(plots) >= batch_rows:
            await flush()
    await flush()
    return report.result(dry_run=dry_run, with_plots=True)
