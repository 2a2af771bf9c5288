"""Per-cell summaries (song × term × locale) of the ratings that count.

Ratings count unless their participant is excluded; repeat trials never count.

One grouped query computes every cell of a study inside an upsert, so the job is cheap
enough to run every few minutes while data come in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    StdDev,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Cast, NullIf, Sqrt
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from analysis.models import CellAggregate
from analysis.selectors import participants_counted
from moodlab.studies.models import Study
from moodlab.studies.scale import SCALE_VALUES
from rating.models import Rating

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


def _median_from_value_counts() -> CombinedExpression:
    """The median as an SQL expression over the count of each rating value.

    Ratings are small integers, so the values at the two middle positions can be read off the
    running counts: exactly PERCENTILE_CONT(0.5), but a hash aggregate can compute it where
    the ordered-set aggregate sorts every rating of the study (and SQLite, the embedded
    default, has none).
    """
    counts = {v: Count("id", filter=Q(value=v)) for v in SCALE_VALUES}
    n = Count("id")

    def value_at(position: Any) -> Case:
        running: Any = Value(0)
        whens = []
        for value in SCALE_VALUES:
            running = running + counts[value]
            whens.append(When(GreaterThan(running, position), then=Value(float(value))))
        return Case(*whens, output_field=FloatField())

    return (value_at((n - 1) / 2) + value_at(n / 2)) / Value(2.0)


def _sample_sd_from_sums() -> Any:
    """The sample standard deviation from integer sums, NULL for a cell of one rating.

    SQLite's STDDEV_SAMP is a Python aggregate that raises on a single value, and a CASE
    around an aggregate does not stop it from running. n·Σv² − (Σv)² is an exact integer
    (ratings are small integers), never negative, so the square root is always defined.
    """
    n = Count("id")
    spread = ExpressionWrapper(
        n * Sum(F("value") * F("value")) - Sum("value") * Sum("value"),
        output_field=FloatField(),
    )
    return Sqrt(Cast(spread, FloatField()) / NullIf(Cast(n * (n - 1), FloatField()), 0.0))


def _cells(study_id: int) -> QuerySet[Any]:
    """One row per song × term (a term belongs to one locale) with the cell's statistics."""
    on_postgres = connection.vendor == "postgresql"
    return (
        # A repeat trial is a consistency check, not a second vote on the cell.
        Rating.objects.filter(
            participant__in=participants_counted(study_id=study_id).values("id"),
            trial__is_repeat=False,
        )
        .values(cell_locale=F("term__locale_id"), cell_song=F("song_id"), cell_term=F("term_id"))
        .annotate(
            n=Count("id"),
            mean=Avg("value"),
            sd=StdDev("value", sample=True) if on_postgres else _sample_sd_from_sums(),
            median=_median_from_value_counts(),
        )
        .order_by()
    )


_UPSERT = """
INSERT INTO analysis_cellaggregate
    (study_id, locale_id, song_id, term_id, n, mean, sd, median, sem, updated_at)
SELECT %s, cell_locale, cell_song, cell_term, n, mean,
    CASE WHEN n > 1 THEN sd END, median, CASE WHEN n > 1 THEN sd / SQRT(n) END, %s
FROM ({cells}) AS cells WHERE true
ON CONFLICT (study_id, locale_id, song_id, term_id) DO UPDATE SET
    n = excluded.n, mean = excluded.mean, sd = excluded.sd, median = excluded.median,
    sem = excluded.sem, updated_at = excluded.updated_at
"""


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
    # The ORM builds the grouped query (vendor-specific median and sd) but cannot write an
    # INSERT … SELECT, hence Query.sql_with_params(), Django's own compiler API. Reading the
    # rows out and upserting them with bulk_create(update_conflicts=True) took 4-6 times as
    # long on 116,000 cells (12-18 s against 68-71 s, 300,000 ratings).
    cells_sql, cells_params = _cells(study_id).query.sql_with_params()
    with connection.cursor() as cursor:
        grouping_settings(cursor)
        cursor.execute(
            _UPSERT.format(cells=cells_sql),
            [study_id, started, *cells_params],
        )
        upserted = cursor.rowcount
    if progress:
        progress(80.0)
    CellAggregate.objects.filter(study_id=study_id, updated_at__lt=started).delete()
    if progress:
        progress(100.0)
    return upserted
