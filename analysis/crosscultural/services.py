"""State changes of the cross-cultural analysis: starting and running runs, importing predictions.

The admin, the API, the Celery task and the ``analyze`` command all come through here.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from functools import partial
from itertools import pairwise
from time import perf_counter
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from analysis.crosscultural.computation import AnalysisParams, InvalidParamsError, analyse
from analysis.crosscultural.models import CrossCulturalAnalysis, Prediction, PredictionSet
from analysis.crosscultural.selectors import (
    analysis_predictions,
    study_ratings_frame,
    study_snapshot,
)
from moodlab.errors import Invalid
from moodlab.queueing import task_publish, task_publish_on_commit
from moodlab.studies.csv_import import ImportFailed, ImportReport, parse_float, read_csv_rows
from moodlab.studies.models import Song, Study, Term

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = {
    "song": ("song", "external_id", "videoID", "song_id"),
    "locale": ("locale",),
    "term": ("term", "term_key", "label"),
    "score": ("score", "prediction", "value"),
}
MAX_PREDICTION_ROWS = 500_000
"""A full set for the reference study is 1,180 songs x 100 terms = 118,000 rows."""


def analysis_params_validate(data: dict[str, Any]) -> AnalysisParams:
    """Params from submitted JSON, or Invalid naming the bad field."""
    try:
        return AnalysisParams.from_dict(data)
    except InvalidParamsError as problem:
        raise Invalid(problem.errors) from problem
    except (TypeError, ValueError) as problem:
        raise Invalid({"params": str(problem)}) from problem


@transaction.atomic
def analysis_create(
    *,
    study: Study,
    params: AnalysisParams,
    snapshot_version: str = "",
    requested_by: User | None = None,
) -> CrossCulturalAnalysis:
    """A queued run; nothing is computed yet (see :func:`analysis_start`, :func:`analysis_run`)."""
    if snapshot_version:
        try:
            study_snapshot(study=study, version=snapshot_version)
        except ValueError as error:
            raise Invalid({"snapshot_version": str(error)}) from error
    return CrossCulturalAnalysis.objects.create(
        study=study,
        snapshot_version=snapshot_version,
        params=params.as_dict(),
        requested_by=requested_by,
    )


@transaction.atomic
def analysis_start(
    *,
    study: Study,
    params: AnalysisParams,
    snapshot_version: str = "",
    requested_by: User | None = None,
) -> CrossCulturalAnalysis:
    """Create a run and queue it on Celery once the row is committed (a worker must see it)."""
    from analysis.crosscultural.tasks import crosscultural_analysis_run  # tasks imports us

    analysis = analysis_create(
        study=study, params=params, snapshot_version=snapshot_version, requested_by=requested_by
    )

    task_publish_on_commit(
        lambda: crosscultural_analysis_run.delay(analysis.pk),
        what=f"analysis {analysis.pk}",
        on_sent=lambda result: _analysis_mark_sent(analysis_id=analysis.pk, task_id=result.id),
    )
    return analysis


def _analysis_mark_sent(*, analysis_id: int, task_id: str) -> None:
    CrossCulturalAnalysis.objects.filter(pk=analysis_id, celery_task_id="").update(
        celery_task_id=task_id
    )


def analyses_send_unsent(*, older_than: timedelta) -> int:
    """Send queued runs that no broker took (no task id yet); returns how many went out.

    A run delivered twice computes once (analysis_run claims it), so no claim is needed here.
    """
    from analysis.crosscultural.tasks import crosscultural_analysis_run  # tasks imports us

    unsent = CrossCulturalAnalysis.objects.filter(
        status=CrossCulturalAnalysis.Status.QUEUED,
        celery_task_id="",
        created_at__lte=timezone.now() - older_than,
    ).values_list("pk", flat=True)
    sent = 0
    for analysis_id in unsent:
        result = task_publish(
            partial(crosscultural_analysis_run.delay, analysis_id), what=f"analysis {analysis_id}"
        )
        if result is None:
            break  # the broker is still down: the next sweep tries again
        _analysis_mark_sent(analysis_id=analysis_id, task_id=result.id)
        sent += 1
    return sent


def analysis_run(*, analysis_id: int) -> CrossCulturalAnalysis:
    """Compute a queued run and store its results (or its error).

    Claimed by a conditional UPDATE from queued to running, so a task delivered twice runs
    once. Not atomic as a whole: progress must be visible to others while it runs.
    """
    claimed = CrossCulturalAnalysis.objects.filter(
        pk=analysis_id, status=CrossCulturalAnalysis.Status.QUEUED
    ).update(
        status=CrossCulturalAnalysis.Status.RUNNING,
        started_at=timezone.now(),
        stage="reading ratings",
        progress=0,
    )
    analysis = CrossCulturalAnalysis.objects.select_related("study").get(pk=analysis_id)
    if not claimed:
        return analysis

    marks = [("reading ratings", perf_counter())]

    def progress(stage: str, percent: int) -> None:
        marks.append((stage, perf_counter()))
        CrossCulturalAnalysis.objects.filter(pk=analysis_id).update(stage=stage, progress=percent)

    try:
        ratings = study_ratings_frame(
            study=analysis.study, snapshot_version=analysis.snapshot_version or None
        )
        predictions = analysis_predictions(
            study=analysis.study, snapshot_version=analysis.snapshot_version or None
        )
        results = analyse(
            ratings,
            params=AnalysisParams.from_dict(analysis.params),
            predictions=predictions,
            progress=progress,
        )
    except Exception as problem:  # the run's record must say why, whatever went wrong
        logger.exception("cross-cultural analysis %s failed", analysis_id)
        CrossCulturalAnalysis.objects.filter(pk=analysis_id).update(
            status=CrossCulturalAnalysis.Status.FAILED,
            error=f"{type(problem).__name__}: {problem}",
            finished_at=timezone.now(),
        )
    else:
        results["source"] = {
            "study": analysis.study.slug,
            "snapshot_version": analysis.snapshot_version or None,
            "analysis_id": analysis.pk,
        }
        # Seconds per stage, so a slow run shows where its time went.
        results["timings"] = [
            {"stage": stage, "seconds": round(end - start, 3)}
            for (stage, start), (_next, end) in pairwise(marks)
        ]
        CrossCulturalAnalysis.objects.filter(pk=analysis_id).update(
            status=CrossCulturalAnalysis.Status.SUCCEEDED,
            results=results,
            stage="done",
            progress=100,
            finished_at=timezone.now(),
        )
    analysis.refresh_from_db()
    return analysis


@transaction.atomic
def prediction_set_import(
    *,
    study: Study,
    name: str,
    csv_source: str | bytes | IO[bytes] | IO[str],
    description: str = "",
    uploaded_by: User | None = None,
) -> tuple[PredictionSet, ImportReport]:
    """Store a model's predictions (CSV: song, locale, term, score) after checking every row.

    The term is matched within its locale by key, then by its label in the locale's language
    or its English gloss, case-insensitively. All or nothing: any row error raises
    ImportFailed with the per-row report and stores nothing.
    """
    report = ImportReport()
    name = name.strip()
    if not name:
        report.add_error(0, "name", "is required")
    elif PredictionSet.objects.filter(study=study, name=name).exists():
        report.add_error(0, "name", f"{study.slug} already has a prediction set named {name!r}")
    rows = read_csv_rows(
        csv_source,
        columns=PREDICTION_COLUMNS,
        required=tuple(PREDICTION_COLUMNS),
        report=report,
        max_rows=MAX_PREDICTION_ROWS,
    )
    songs = dict(Song.objects.filter(study=study).values_list("external_id", "pk"))
    terms = _term_lookup(study)
    parsed: list[tuple[int, int, float]] = []
    seen: dict[tuple[int, int], int] = {}
    for line, values in rows:
        song_id = songs.get(values["song"])
        if song_id is None:
            report.add_error(line, "song", f"unknown song {values['song']!r}")
        locale_terms = terms.get(values["locale"])
        term_id = None
        if locale_terms is None:
            report.add_error(line, "locale", f"unknown locale {values['locale']!r}")
        else:
            term_id = locale_terms.get(values["term"].casefold())
            if term_id is None:
                report.add_error(
                    line, "term", f"unknown term {values['term']!r} in {values['locale']}"
                )
        score = parse_float(values["score"], row=line, field_name="score", report=report)
        if values["score"] == "":
            report.add_error(line, "score", "is required")
        elif score is not None and not math.isfinite(score):
            report.add_error(line, "score", f"{values['score']!r} is not a finite number")
            score = None
        if song_id is None or term_id is None or score is None:
            continue
        if (song_id, term_id) in seen:
            report.add_error(line, "", f"duplicates row {seen[(song_id, term_id)]}")
            continue
        seen[(song_id, term_id)] = line
        parsed.append((song_id, term_id, score))
    if not report.ok:
        raise ImportFailed(report)
    prediction_set = PredictionSet.objects.create(
        study=study,
        name=name,
        description=description,
        uploaded_by=uploaded_by,
        row_count=len(parsed),
    )
    Prediction.objects.bulk_create(
        (
            Prediction(prediction_set=prediction_set, song_id=song, term_id=term, score=score)
            for song, term, score in parsed
        ),
        batch_size=5000,
    )
    report.created = len(parsed)
    return prediction_set, report


def _term_lookup(study: Study) -> dict[str, dict[str, int]]:
    """Per locale code, the names a term answers to (casefolded) and its id.

    Keys win; a label or gloss two terms of a locale share is left out as ambiguous.
    """
    lookup: dict[str, dict[str, int]] = {}
    aliases: dict[str, dict[str, set[int]]] = {}
    for term in Term.objects.filter(locale__study=study).select_related("locale"):
        code = term.locale.code
        lookup.setdefault(code, {})[term.key.casefold()] = term.pk
        labels = {
            getattr(term, f"label_{term.locale.language}", None),
            term.label_en,  # type: ignore[attr-defined]
        }
        for alias in labels - {None, ""}:
            aliases.setdefault(code, {}).setdefault(alias.casefold(), set()).add(term.pk)
    for code, names in aliases.items():
        for alias, ids in names.items():
            if len(ids) == 1:
                lookup[code].setdefault(alias, next(iter(ids)))
    return lookup
