"""Reading researcher-supplied CSV files into validated rows, with a per-row error report.

Imports are all-or-nothing: the caller validates every row first and writes only when the
report is clean, inside one transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

from moodlab.wording import plural

MAX_IMPORT_ROWS = 100_000


@dataclass
class RowError:
    row: int  # 1-based line number in the file, header = 1; 0 for file-level problems
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, row: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(row, field_name, message))

    def summary(self) -> str:
        if not self.ok:
            return f"Nothing imported: {plural(len(self.errors), 'problem')} found."
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged."


class ImportFailed(Exception):  # noqa: N818 - reads as "the import failed", carries the report
    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.summary())
        self.report = report


def read_csv_rows(
    source: str | bytes | IO[bytes] | IO[str],
    *,
    columns: Mapping[str, Iterable[str]],
    required: Iterable[str],
    report: ImportReport,
    max_rows: int = MAX_IMPORT_ROWS,
) -> list[tuple[int, dict[str, str]]]:
    """Rows keyed by canonical column name, each with its line number.

    `columns` maps a canonical name to the header spellings accepted for it (the GlobalMood
    release says `videoID` where MoodLab says `external_id`). Missing required columns are a
    file-level error: no row is returned.
    """
    text = _decode(source, report)
    if text is None:
        return []
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    header_for: dict[str, str] = {}
    for canonical, spellings in columns.items():
        for spelling in spellings:
            if spelling in headers:
                header_for[canonical] = spelling
                break
    missing = [name for name in required if name not in header_for]
    if missing:
        accepted = "; ".join(f"{name} ({' or '.join(columns[name])})" for name in missing)
        report.add_error(0, "", f"missing column(s): {accepted}")
        return []
    reader.fieldnames = headers
    rows: list[tuple[int, dict[str, str]]] = []
    for line_number, raw in enumerate(reader, start=2):
        if len(rows) >= max_rows:
            report.add_error(0, "", f"more than {max_rows} rows; split the file")
            return []
        if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
            continue  # blank line
        rows.append(
            (
                line_number,
                {name: (raw.get(header) or "").strip() for name, header in header_for.items()},
            )
        )
    if not rows:
        report.add_error(0, "", "the file has no data rows")
    return rows


def _decode(source: str | bytes | IO[bytes] | IO[str], report: ImportReport) -> str | None:
    data = source if isinstance(source, str | bytes) else source.read()
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.add_error(0, "", "the file is not UTF-8 text (save it as CSV UTF-8)")
        return None


def parse_float(
    value: str, *, row: int, field_name: str, report: ImportReport, minimum: float | None = None
) -> float | None:
    """An optional number; a malformed one is a row error, an empty one is None."""
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        report.add_error(row, field_name, f"{value!r} is not a number")
        return None
    if number != number or (minimum is not None and number < minimum):  # NaN or below range
        report.add_error(row, field_name, f"{value!r} is out of range")
        return None
    return number
