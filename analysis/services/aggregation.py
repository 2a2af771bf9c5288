"""Per-cell summaries (song × term × locale) of the ratings that count.

Ratings count unless their participant is excluded; repeat trials never count.

One grouped query computes every cell of a study inside an upsert, so the job is cheap
enough to run every few minutes while data come in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from analysis.models import CellAggregate
from analysis.selectors import participants_counted
from moodlab.studies.models import Study
from moodlab.studies.scale import SCALE_VALUES
from rating.models import Rating, Trial

Progress = Callable[[float], None]
"""Called with the percentage done (0–100): a Celery task state or a terminal progress bar."""


def grouping_settings(cursor: Any) -> None:
    """Tune the current transaction for grouping a whole study (PostgreSQL; a no-op elsewhere).

    A study's cells or participants are grouped in memory rather than spilled to temporary
    files (the default 4 MB holds a few thousand groups), and without JIT compilation, which
    cost these one-off queries more seconds than it saved.
    """
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")


def _value_counts(study_id: int) -> QuerySet[Any]:
    """How many counted ratings each cell has of each value: the one pass over the ratings.

    Everything a cell reports (n, mean, sd, median) follows exactly from these counts, since
    ratings are points of the scale, and counting is the cheapest grouping there is: no
    numeric sums, a few bytes per group. A repeat trial is a consistency check, not a second
    vote on the cell; the study's repeat trials are few, so they are left out by id rather
    than by joining every rating to its trial.
    """
    repeats = Trial.objects.filter(participant__study_id=study_id, is_repeat=True)
    return (
        Rating.objects.filter(participant__in=participants_counted(study_id=study_id).values("id"))
        .exclude(trial__in=repeats.values("id"))
        .values("song_id", "term_id", "value")
        .annotate(ratings=Count("*"))
        .order_by()
    )


def _at_position(position: str) -> str:
    """SQL for the rating value at a 0-based `position` of a cell's sorted ratings."""
    running, whens = [], []
    for value in SCALE_VALUES:
        running.append(f"n{value}")
        whens.append(f"WHEN {' + '.join(running)} > {position} THEN {float(value)}")
    return f"CASE {' '.join(whens)} END"


_PER_VALUE = ", ".join(
    f"CAST(SUM(CASE WHEN value = {value} THEN ratings ELSE 0 END) AS BIGINT) AS n{value}"
    for value in SCALE_VALUES
)
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
    SELECT song_id, term_id, CAST(SUM(ratings) AS BIGINT) AS n,
        CAST(SUM(value * ratings) AS BIGINT) AS total,
        CAST(SUM(value * value * ratings) AS BIGINT) AS squares, {_PER_VALUE}
    FROM ({{value_counts}}) AS value_counts GROUP BY song_id, term_id
) AS cell JOIN studies_term term ON term.id = cell.term_id
WHERE true
ON CONFLICT (study_id, locale_id, song_id, term_id) DO UPDATE SET
    n = excluded.n, mean = excluded.mean, sd = excluded.sd, median = excluded.median,
    sem = excluded.sem, updated_at = excluded.updated_at
"""  # noqa: S608 - fixed SQL fragments, values are parameters


@transaction.atomic
def cells_aggregate(*, study_id: int, progress: Progress | None = None) -> int:
    """Recompute every cell of a study; returns how many cells it has.

    One INSERT … SELECT … ON CONFLICT DO UPDATE computes and upserts every cell inside the
    database (a Python round trip per cell took longer than the grouping itself). The study
    row is locked so two runs of the same study take turns; cells that no longer have any
    counted rating (all their raters excluded) are removed.
    """
    Study.objects.select_for_update().get(pk=study_id)
    started = timezone.now()
    # The ORM builds the counting query (who counts is `participants_counted`) but cannot
    # write an INSERT … SELECT, hence Query.sql_with_params(), Django's own compiler API.
    # Reading the rows out and upserting them with bulk_create(update_conflicts=True) took
    # 4-6 times as long on 116,000 cells (12-18 s against 68-71 s, 300,000 ratings).
    counts_sql, counts_params = _value_counts(study_id).query.sql_with_params()
    with connection.cursor() as cursor:
        grouping_settings(cursor)
        cursor.execute(_UPSERT.format(value_counts=counts_sql), [study_id, started, *counts_params])
        upserted = cursor.rowcount
    if progress:
        progress(80.0)
    CellAggregate.objects.filter(study_id=study_id, updated_at__lt=started).delete()
    if progress:
        progress(100.0)
    return upserted
