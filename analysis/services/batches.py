"""Rows in and out of the database in bulk: how the jobs read millions of ratings and write
their results.

Reading: a query's rows as Arrow record batches.
A Python tuple per row cost the jobs more than the database took to produce the rows. On
PostgreSQL, COPY writes them as CSV to a temporary file that Arrow's reader parses block by
block in native code; the file can be read again, so a job that needs two passes (quality
control's agreement rule) queries once. Elsewhere (the embedded SQLite default) a cursor
fetches them. Either way memory holds one block at a time, however many rows there are.

Writing: rows of a model's table, by COPY … FROM STDIN on PostgreSQL and multi-row INSERTs
elsewhere.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import connection, models, transaction

from analysis.services.aggregation import grouping_settings

FETCH_ROWS = 100_000
# Arrow's reader parses blocks ahead of the one handed out, so memory grows with the block:
# reading ten million ratings took 290 MB with 4 MiB blocks, 104 MB with these, as fast.
_CSV_BLOCK_BYTES = 256 << 10

Batches = Callable[[], Iterator[pa.RecordBatch]]
"""Each call reads the rows again from the start."""


@contextmanager
def query_batches(
    sql: str, params: Sequence[Any] | Mapping[str, Any], types: Mapping[str, pa.DataType]
) -> Iterator[Batches]:
    """The rows of `sql`, whose columns are `types`' in order (NULL stays null).

    The query runs once, on entering; the batches can be read until the block ends.
    """
    names = list(types)
    if connection.vendor != "postgresql":
        yield lambda: _fetched(sql, params, names, list(types.values()))
        return
    with tempfile.NamedTemporaryFile(suffix=".csv") as rows:
        with transaction.atomic(), connection.cursor() as cursor:
            grouping_settings(cursor)
            query = cursor.mogrify(sql, params).decode()
            # The file object itself: psycopg2 writes each row with a call, and the wrapper's
            # Python-level write doubled what those calls cost.
            cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", rows.file)
        rows.flush()

        def parsed() -> Iterator[pa.RecordBatch]:
            if not rows.tell():  # no rows (Arrow refuses an empty file)
                return
            yield from pa_csv.open_csv(
                rows.name,
                read_options=pa_csv.ReadOptions(column_names=names, block_size=_CSV_BLOCK_BYTES),
                convert_options=pa_csv.ConvertOptions(column_types=dict(types)),
            )

        yield parsed


def regrouped(size: int, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches regrouped into `size` rows each (the last one shorter).

    Snapshots write each as a Parquet row group, so the files stay the same however the rows
    were read; quality control sums each with one round of numpy calls, not one per block.
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held < size:
            continue
        table = pa.Table.from_batches(pending).combine_chunks()
        whole = held - held % size
        for start in range(0, whole, size):
            yield table.slice(start, size).to_batches()[0]
        pending, held = table.slice(whole).to_batches(), held - whole
    if held:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def query_arrays(
    sql: str, params: Sequence[Any] | Mapping[str, Any], types: Mapping[str, np.dtype[Any]]
) -> dict[str, np.ndarray]:
    """The rows of `sql` as one numpy array per column, sorted by the first (an id).

    For a study's trials, which jobs look ratings up in by binary search: a million and a
    half at ten million ratings, held in the narrowest types that fit. A NULL is 0 in an
    integer column and NaN in a float one.
    """
    arrow_types = {name: pa.from_numpy_dtype(kind) for name, kind in types.items()}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in types}
    with query_batches(sql, params, arrow_types) as batches:
        for batch in batches():
            for name, kind in types.items():
                column = batch.column(name)
                if np.issubdtype(kind, np.integer):
                    column = pc.fill_null(column, 0)
                parts[name].append(column.to_numpy(zero_copy_only=False).astype(kind, copy=False))
    arrays = {
        name: np.concatenate(parts.pop(name)) if parts[name] else np.zeros(0, kind)
        for name, kind in types.items()
    }
    first = next(iter(arrays.values()))
    if np.any(first[1:] < first[:-1]):  # rows mostly come in id order already
        order = np.argsort(first, kind="stable")
        for name in arrays:  # one column at a time, so only one is held twice
            arrays[name] = arrays[name][order]
    return arrays


def _fetched(
    sql: str, params: Sequence[Any] | Mapping[str, Any], names: list[str], types: list[Any]
) -> Iterator[pa.RecordBatch]:
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield pa.record_batch(
                [
                    pa.array(column, type=kind)
                    for column, kind in zip(zip(*rows, strict=True), types, strict=True)
                ],
                names=names,
            )


def rows_insert(model: type[models.Model], rows: Iterable[Sequence[Any]]) -> None:
    """Store rows of `model`'s table, each in the order of its fields (the primary key left out).

    For results by the hundred thousand, where a model instance each (bulk_create) cost more
    than computing them. None is NULL; text values must not be empty (CSV reads them as NULL).
    """
    table = model._meta.db_table
    columns = [str(f.column) for f in model._meta.concrete_fields if not f.primary_key]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            block = io.StringIO()
            csv.writer(block).writerows(rows)
            block.seek(0)
            cursor.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", block
            )
            return
        per_statement = (connection.features.max_query_params or 8000) // len(columns)
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - model's
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        iterator = iter(rows)
        while batch := list(islice(iterator, per_statement)):
            cursor.execute(
                insert + ", ".join([placeholders] * len(batch)),
                [value for row in batch for value in row],
            )
