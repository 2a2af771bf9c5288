"""CSV cells that a spreadsheet will not run as formulas.

Exports carry text typed by participants; a cell starting with = + - @ (or a tab or carriage
return, which some spreadsheets skip before reading the formula) is prefixed with an
apostrophe, as OWASP recommends for CSV injection. Numbers are left alone, so a negative
number stays a number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = "^([" + re.escape("".join(FORMULA_PREFIXES)) + "])"


def safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_safe_csv(
    rows: Iterable[Mapping[str, object]], *, fieldnames: Sequence[str], out: IO[str]
) -> int:
    """Write dict rows as CSV with every text cell guarded; returns the number of rows."""
    writer = csv.DictWriter(out, fieldnames=list(fieldnames))
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({name: safe_cell(value) for name, value in row.items()})
        count += 1
    return count


def guard_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The same guard for a whole Arrow text column at once (snapshot exports)."""
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return column
    return pc.replace_substring_regex(column, pattern=_FORMULA_START, replacement="'\\1")
