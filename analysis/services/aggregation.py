"""Per-cell summaries (song × term × locale) of the ratings that count.

Ratings count unless their participant is excluded; repeat trials never count.

One grouped query computes every cell of a study inside an upsert, so the job is cheap
enough to run every few minutes while data come in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from analysis.models import CellAggregate
from analysis.selectors import participant_ids_to_filter, participants_counted
from moodlab.studies.models import Study
from moodlab.studies.scale import SCALE_VALUES
from rating.models import Rating, Trial

Progress = Callable[[float], None]
"""Called with the percentage done (0–100): a Celery task state or a terminal progress bar."""


def grouping_settings(cursor: Any) -> None:
    """Tune the current transaction for grouping a whole study (PostgreSQL; a no-op elsewhere).

    A study's cells or participants are grouped in memory rather than spilled to temporary
    files (the default 4 MB holds a few thousand groups), and without JIT compilation, which
    cost these one-off queries more seconds than it saved. Passing partial groups between
    parallel workers is costed as cheaper than the default: the planner overestimates how many
    groups (cells, values) there are tenfold, and so chose one process where two were faster.
    """
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL parallel_tuple_cost = 0.01")


def _value_counts(study_id: int) -> QuerySet[Any]:
    """How many counted ratings each cell has of each value: the one pass over the ratings.

    Everything a cell reports (n, mean, sd, median) follows exactly from these counts, since
    ratings are points of the scale, and counting is the cheapest grouping there is: no
    numeric sums, a few bytes per cell. A repeat trial is a consistency check, not a second
    vote on the cell: they are left out by an anti-join against the few repeat trials (which,
    unlike NOT IN, PostgreSQL runs in parallel).
    """
    counted = participant_ids_to_filter(participants_counted(study_id=study_id))
    repeats = Trial.objects.filter(pk=OuterRef("trial_id"), is_repeat=True)
    per_value = {f"n{value}": Count("pk", filter=Q(value=value)) for value in SCALE_VALUES}
    return (
        Rating.objects.filter(~Exists(repeats), participant_id__in=counted)
        .values("song_id", "term_id")
        .annotate(**per_value)
        .order_by()
    )


def _at_position(position: str) -> str:
    """SQL for the rating value at a 0-based `position` of a cell's sorted ratings."""
    running, whens = [], []
    for value in SCALE_VALUES:
        running.append(f"n{value}")
        whens.append(f"WHEN {' + '.join(running)} > {position} THEN {float(value)}")
    return f"CASE {' '.join(whens)} END"


def _weighted(power: int) -> str:
    """SQL for Σ value^power over a cell's ratings, from its per-value counts (0: how many)."""
    return " + ".join(f"{value**power} * n{value}" for value in SCALE_VALUES)


_PER_VALUE = ", ".join(f"CAST(n{value} AS BIGINT) AS n{value}" for value in SCALE_VALUES)
_SPREAD = "CAST(n * squares - total * total AS DOUBLE PRECISION)"
"""n·Σv² − (Σv)²: exact in integers and never negative, so the square roots are defined."""

# The median is exactly PERCENTILE_CONT(0.5): the mean of the values at the two middle
# positions (integer division), read off the running counts.
_UPSERT = f"""
INSERT INTO analysis_cellaggregate
    (study_id, locale_id, song_id, term_id, n, mean, sd, median, sem, updated_at)
SELECT %s, term.locale_id, cell.song_id, cell.term_id, n,
    CAST(total AS DOUBLE PRECISION) / n,
    CASE WHEN n > 1 THEN SQRT({_SPREAD} / (n * (n - 1))) END,
    ({_at_position("(n - 1) / 2")} + {_at_position("n / 2")}) / 2,
    CASE WHEN n > 1 THEN SQRT({_SPREAD} / (n * n * (n - 1))) END,
    %s
FROM (
    SELECT song_id, term_id, {_PER_VALUE}, CAST({_weighted(0)} AS BIGINT) AS n,
        CAST({_weighted(1)} AS BIGINT) AS total, CAST({_weighted(2)} AS BIGINT) AS squares
    FROM aggregation_value_counts
) AS cell JOIN studies_term term ON term.id = cell.term_id
WHERE true
ON CONFLICT (study_id, locale_id, song_id, term_id) DO UPDATE SET
    n = excluded.n, mean = excluded.mean, sd = excluded.sd, median = excluded.median,
    sem = excluded.sem, updated_at = excluded.updated_at
"""  # noqa: S608 - fixed SQL fragments, values are parameters


@transaction.atomic
def cells_aggregate(*, study_id: int, progress: Progress | None = None) -> int:
    """Recompute every cell of a study; returns how many cells it has.

    The database counts each cell's values into a temporary table, then one INSERT … SELECT …
    ON CONFLICT DO UPDATE computes and upserts every cell from those counts (a Python round
    trip per cell took longer than the grouping itself). The study
    row is locked so two runs of the same study take turns; cells that no longer have any
    counted rating (all their raters excluded) are removed.
    """
    Study.objects.select_for_update().get(pk=study_id)
    started = timezone.now()
    # The ORM builds the counting query (who counts is `participants_counted`) but cannot
    # write a CREATE TABLE … AS, hence Query.sql_with_params(), Django's own compiler API.
    # Reading the rows out and upserting them with bulk_create(update_conflicts=True) took
    # 4-6 times as long on 116,000 cells (12-18 s against 68-71 s, 300,000 ratings). The
    # counts go through a temporary table, not straight into the INSERT, because PostgreSQL
    # never runs an INSERT's SELECT in parallel, and counting is where the time goes.
    counts_sql, counts_params = _value_counts(study_id).query.sql_with_params()
    with connection.cursor() as cursor:
        grouping_settings(cursor)
        cursor.execute(
            f"CREATE TEMPORARY TABLE aggregation_value_counts AS {counts_sql}", counts_params
        )
        cursor.execute(_UPSERT, [study_id, started])
        upserted = cursor.rowcount
        cursor.execute("DROP TABLE aggregation_value_counts")
    if progress:
        progress(80.0)
    CellAggregate.objects.filter(study_id=study_id, updated_at__lt=started).delete()
    if progress:
        progress(100.0)
    return upserted
