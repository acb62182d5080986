"""Import of farmers with their plots from CSV, one row per plot."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.cooperatives import repository
from services.cooperatives.geo import derive_districts, parse_geometry_text, validate_plot_geometry
from services.cooperatives.identifiers import lookup_ubigeo, validate_dni
from services.cooperatives.imports.rows import (
    Progress,
    Report,
    RowError,
    attempt,
    domain_error,
    optional_date,
    optional_decimal,
    optional_int,
    parse_bool,
    pydantic_errors,
    read_rows,
)
from services.cooperatives.models import Farmer, Plot
from services.cooperatives.reference import fold
from services.cooperatives.schemas import FarmerCreate, ImportResult
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.ids import new_id

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
    "ubigeo",
)
FARMER_REQUIRED = ("farmer_name", "plot_name", "crop", "geometry")
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

_FARMER_FIELDS = {
    "name": "farmer_name",
    "dni": "dni",
    "gender": "gender",
    "joined_on": "joined_on",
    "public_name_consent": "public_name_consent",
}
_PLOT_FIELDS = {"name": "plot_name", "area_ha": "area_ha", "geometry": "geometry"}


def _farmer_row(row: dict[str, str]) -> tuple[FarmerCreate | None, list[RowError]]:
    errors: list[RowError] = []
    gender = _GENDERS.get(fold(row.get("gender", "")))
    if gender is None:
        errors.append(
            RowError(
                "gender",
                "gender_invalid",
                f"'{row['gender']}' is not one of female, male, other, undisclosed.",
            )
        )
    joined_on = attempt(errors, lambda: optional_date(row.get("joined_on", ""), "joined_on"))
    consent = attempt(errors, lambda: parse_bool(row.get("public_name_consent", ""), "public_name_consent"))
    dni = attempt(errors, lambda: _dni(row.get("dni", "")))
    try:
        data = FarmerCreate.model_validate(
            {
                "name": row["farmer_name"],
                "gender": gender or None,
                "joined_on": joined_on,
                "public_name_consent": bool(consent),
            }
        )
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, _FARMER_FIELDS))
        return None, errors
    data.dni = dni
    return (None if errors else data), errors


def _dni(value: str) -> str | None:
    if not value:
        return None
    try:
        return validate_dni(value)
    except DomainError as exc:
        raise domain_error(exc) from exc


def _geometry(row: dict[str, str], area: Decimal | None) -> Any:
    try:
        return validate_plot_geometry(parse_geometry_text(row["geometry"]), area_ha=area)
    except DomainError as exc:
        raise domain_error(exc, _PLOT_FIELDS) from exc


def _ubigeo(value: str) -> str | None:
    """The plot's district as written; an empty cell leaves it to be derived from the geometry."""
    if not value:
        return None
    try:
        return lookup_ubigeo(value).ubigeo
    except DomainError as exc:
        raise domain_error(exc) from exc


def _crop(value: str, products: list[str]) -> str:
    crop = value.strip().lower()
    if crop not in ("cacao", "coffee"):
        raise RowError("crop", "crop_invalid", f"'{value}' is not a crop: write cacao or coffee.")
    if crop not in products:
        raise RowError(
            "crop", "crop_not_offered", f"The cooperative does not list {crop} among its products."
        )
    return crop


def _plot_row(row: dict[str, str], products: list[str]) -> tuple[dict[str, Any] | None, list[RowError]]:
    errors: list[RowError] = []
    crop = attempt(errors, lambda: _crop(row["crop"], products))
    if not row["plot_name"]:
        errors.append(RowError("plot_name", "missing", "Every row needs a plot_name."))
    area_errors: list[RowError] = []
    area = attempt(area_errors, lambda: optional_decimal(row.get("area_ha", ""), "area_ha"))
    errors.extend(area_errors)
    checked = None if area_errors else attempt(errors, lambda: _geometry(row, area))
    altitude = attempt(errors, lambda: optional_int(row.get("altitude_m", ""), "altitude_m", 0, 6000))
    organic_since = attempt(errors, lambda: optional_date(row.get("organic_since", ""), "organic_since"))
    ubigeo = attempt(errors, lambda: _ubigeo(row.get("ubigeo", "")))
    if errors or checked is None:
        return None, errors
    return {
        "name": row["plot_name"][:200],
        "crop": crop,
        **checked.columns(ubigeo=ubigeo),
        "altitude_m": altitude,
        "organic_since": organic_since,
    }, errors


class _Members:
    """What the import remembers per distinct member and per plot: a few machine words, never the row.

    A 100,000-row file must not sit in memory, so keys are 64-bit digests, and a new member's id is
    derived from a random per-import salt instead of being stored.
    """

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)
        self._seen: dict[int, int] = {}  # member → (name digest << 32) | first line
        self._joined: dict[int, str] = {}  # member → id of the registered member it turned out to be
        self._plots: dict[int, int] = {}  # (member, plot name) → line

    @staticmethod
    def _digest(*parts: str, size: int = 8) -> int:
        h = hashlib.blake2b(digest_size=size)
        for part in parts:
            h.update(part.encode())
            h.update(b"\x1f")
        return int.from_bytes(h.digest(), "big")

    def see(self, key: str, folded_name: str, line: int) -> tuple[bool, int | None]:
        """(first time this member appears, line of an earlier row naming it differently)."""
        member, name = self._digest(key), self._digest(folded_name, size=4)
        known = self._seen.get(member)
        if known is None:
            self._seen[member] = (name << 32) | line
            return True, None
        return False, (None if known >> 32 == name else known & 0xFFFFFFFF)

    def id_of(self, key: str) -> str:
        joined = self._joined.get(self._digest(key))
        if joined is not None:
            return joined
        return "farm_" + hashlib.blake2b(self._salt + key.encode(), digest_size=16).hexdigest()

    def join(self, key: str, existing_id: str) -> None:
        self._joined[self._digest(key)] = existing_id

    def see_plot(self, key: str, folded_plot_name: str, line: int) -> int | None:
        """The line where this member's plot of that name appeared before, if any."""
        digest = self._digest(key, folded_plot_name)
        previous = self._plots.get(digest)
        if previous is None:
            self._plots[digest] = line
        return previous


@dataclass
class _FarmerBatch:
    """Rows waiting for one round of database checks and one multi-row INSERT per table."""

    farmers: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (line, key, values)
    plots: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, values)


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
    # Locking the cooperative serialises two imports into it (a double click, a retry without a key):
    # the second one then sees the first one's members instead of inserting them again.
    coop = await repository.get_cooperative_for_update(session, cooperative_id)
    if coop is None or not principal.can_write_cooperative(cooperative_id):
        raise NotFound("No such cooperative.")
    report = Report(max_errors)
    # Rows with the same DNI (or, lacking one, the same name) are one farmer (API.md).
    members = _Members()
    batch = _FarmerBatch()

    async def flush() -> None:
        await _resolve_existing(session, cooperative_id, batch, members, report)
        if not report.errors:
            new = [values for _, _, values in batch.farmers if values.pop("_existing", None) is None]
            if not dry_run:
                plots = [values for _, values in batch.plots]
                derive_districts(plots)
                await repository.bulk_insert(session, Farmer, new)
                await repository.bulk_insert(session, Plot, plots)
            report.created += len(new)
            report.plots_created += len(batch.plots)
        batch.farmers.clear()
        batch.plots.clear()

    for line, row in read_rows(stream, progress, report, FARMER_REQUIRED, FARMER_COLUMNS):
        farmer, farmer_errors = _farmer_row(row)
        plot, plot_errors = _plot_row(row, coop.products)
        for error in farmer_errors + plot_errors:
            report.fail(line, error.column, error.code, error.detail)
        if farmer is None or plot is None:
            continue
        key = f"dni:{farmer.dni}" if farmer.dni else f"name:{fold(farmer.name)}"
        first, clash = members.see(key, fold(farmer.name), line)
        if clash is not None:
            report.fail(
                line,
                "farmer_name",
                "farmer_inconsistent",
                f"DNI {farmer.dni} is named differently on line {clash}.",
            )
            continue
        if first:
            batch.farmers.append((line, key, _farmer_values(farmer, members.id_of(key), cooperative_id)))
        previous = members.see_plot(key, fold(plot["name"]), line)
        if previous is not None:
            report.fail(
                line,
                "plot_name",
                "plot_duplicate_in_file",
                f"This farmer's plot '{plot['name']}' is also on line {previous}.",
            )
            continue
        batch.plots.append(
            (
                line,
                {
                    "id": new_id("plot"),
                    "farmer_id": members.id_of(key),
                    "cooperative_id": cooperative_id,
                    "created_at": utcnow(),
                    **plot,
                },
            )
        )
        if len(batch.plots) >= batch_rows:
            await flush()
    await flush()
    return report.result(dry_run=dry_run, with_plots=True)


def _farmer_values(farmer: FarmerCreate, farmer_id: str, cooperative_id: str) -> dict[str, Any]:
    return {
        "id": farmer_id,
        "cooperative_id": cooperative_id,
        "name": farmer.name,
        "name_key": fold(farmer.name),
        "dni": farmer.dni,
        "gender": farmer.gender.value if farmer.gender else None,
        "joined_on": farmer.joined_on,
        "public_name_consent": farmer.public_name_consent,
        "created_at": utcnow(),
    }


async def _resolve_existing(
    session: AsyncSession,
    cooperative_id: str,
    batch: _FarmerBatch,
    members: _Members,
    report: Report,
) -> None:
    """Join the batch's farmers to members already registered, and refuse plots registered before.

    A re-uploaded file must not duplicate anyone: the same DNI (or, without one, the same name) is
    the same member, and a plot name already used by that member is an error, not a second plot.
    """
    dnis = [key[4:] for _, key, _ in batch.farmers if key.startswith("dni:")]
    names = [values["name"] for _, key, values in batch.farmers if key.startswith("name:")]
    by_dni = await repository.farmers_by_dni(session, cooperative_id, dnis)
    by_name = await repository.farmers_without_dni_by_name(session, cooperative_id, names)
    remap: dict[str, str] = {}
    for line, key, values in batch.farmers:
        if key.startswith("dni:") and key[4:] in by_dni:
            existing_id, existing_name = by_dni[key[4:]]
            if fold(existing_name) != fold(values["name"]):
                report.fail(
                    line,
                    "farmer_name",
                    "farmer_inconsistent",
                    f"DNI {key[4:]} belongs to the registered member '{existing_name}'.",
                )
                continue
        elif key.startswith("name:") and len(by_name.get(key[5:], [])) == 1:
            existing_id = by_name[key[5:]][0]
        elif key.startswith("name:") and len(by_name.get(key[5:], [])) > 1:
            report.fail(
                line,
                "farmer_name",
                "farmer_ambiguous",
                f"Several registered members are named '{values['name']}' without a DNI; add the DNI.",
            )
            continue
        else:
            continue
        remap[values["id"]] = existing_id
        values["_existing"] = existing_id
        members.join(key, existing_id)
    for _, plot in batch.plots:
        plot["farmer_id"] = remap.get(plot["farmer_id"], plot["farmer_id"])
    taken = {(f, fold(n)) for f, n in await repository.plot_names_of(session, set(remap.values()))}
    for line, plot in batch.plots:
        if (plot["farmer_id"], fold(plot["name"])) in taken:
            report.fail(
                line,
                "plot_name",
                "plot_exists",
                f"The member already has a plot named '{plot['name']}'; nothing was imported twice.",
            )
