"""Reading a CSV upload row by row, and the report of every bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from pydantic import ValidationError

from services.cooperatives.reference import fold
from services.cooperatives.schemas import ImportResult, ImportRowError
from shared.errors import DomainError, ValidationFailed

_TRUE = {"true", "1", "yes", "si", "sí", "y", "s"}
_FALSE = {"false", "0", "no", "n", ""}
Progress = Callable[[int], None]


class ImportFailed(ValidationFailed):
    code = "import_invalid"
    title = "The file has invalid rows; nothing was imported"


class RowError(Exception):
    def __init__(self, column: str | None, code: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.code, self.detail = column, code, detail


@dataclass
class Report:
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
            lines = len({e.line for e in self.errors})
            raise ImportFailed(
                f"{lines}{'+' if self.truncated else ''} line(s) with errors; nothing was imported.",
                extra=extra,
            )
        return ImportResult(
            created=0 if dry_run else self.created,
            rows=self.rows,
            dry_run=dry_run,
            plots_created=(0 if dry_run else self.plots_created) if with_plots else None,
            would_create=self.created if dry_run else None,
            would_create_plots=self.plots_created if dry_run and with_plots else None,
        )


class CountingReader(io.RawIOBase):
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


_UNDECODABLE = "\ufffd"
_NOT_UTF8 = "The file is not UTF-8 text: save it as 'CSV UTF-8' in the spreadsheet program."


def read_rows(
    stream: IO[bytes],
    progress: Progress | None,
    report: Report,
    required: tuple[str, ...],
    known: tuple[str, ...],
) -> Iterator[tuple[int, dict[str, str]]]:
    # utf-8-sig accepts the BOM that spreadsheet programs write. Bytes that are not UTF-8 become
    # U+FFFD and are reported on their own row: the decoder reads ahead, so its exception would
    # name the wrong line.
    text = io.TextIOWrapper(
        io.BufferedReader(CountingReader(stream, progress)),
        encoding="utf-8-sig",
        errors="replace",
        newline="",
    )
    reader = csv.DictReader(text)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if any(_UNDECODABLE in h for h in header):
        report.fail(1, None, "encoding", _NOT_UTF8)
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
            bad = next((k for k, v in row.items() if v and _UNDECODABLE in v), None)
            if bad is not None:
                report.fail(reader.line_num, bad, "encoding", _NOT_UTF8)
                continue
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
    except csv.Error as exc:
        report.fail(reader.line_num, None, "csv_malformed", f"Not valid CSV: {exc}.")


def pydantic_errors(exc: ValidationError, columns: dict[str, str]) -> list[RowError]:
    errors = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else None
        errors.append(RowError(columns.get(name or "", name), str(error["type"]), error["msg"]))
    return errors


def domain_error(exc: DomainError, columns: dict[str, str] | None = None) -> RowError:
    column = exc.errors[0].field.split(".")[0] if exc.errors else None
    if columns and column in columns:
        column = columns[column]
    return RowError(column, exc.instance_code, exc.detail)


def split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def parse_bool(value: str, column: str) -> bool:
    folded = fold(value)
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise RowError(column, "bool_invalid", f"'{value}' is not true or false.")


def optional_decimal(value: str, column: str) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise RowError(column, "number_invalid", f"'{value}' is not a number.") from exc
    if not number.is_finite() or number <= 0:
        raise RowError(column, "number_invalid", f"'{value}' must be a positive number.")
    return number


def optional_int(value: str, column: str, low: int, high: int) -> int | None:
    if not value:
        return None
    if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
        raise RowError(column, "number_invalid", f"'{value}' must be a whole number from {low} to {high}.")
    return int(value)


def optional_date(value: str, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise RowError(column, "date_invalid", f"'{value}' is not a date (YYYY-MM-DD).") from exc


def attempt(errors: list[RowError], check: Callable[[], Any]) -> Any:
    """Run one independent check of a row, keeping its error so every column's problem is reported."""
    try:
        return check()
    except RowError as exc:
        errors.append(exc)
        return None
