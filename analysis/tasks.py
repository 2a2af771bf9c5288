"""Celery tasks of the analysis jobs: each takes a study id and calls one service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from analysis.aggregation import Progress, cells_aggregate
from analysis.quality import quality_check
from analysis.snapshots import snapshot_export
from moodlab.studies.models import Study


def _reporter(task: Task) -> Progress:
    """Publish progress as the task's PROGRESS state, which the admin shows as a percentage."""

    def report(percent: float) -> None:
        if task.request.id and not task.request.is_eager:
            task.update_state(state="PROGRESS", meta={"percent": round(percent, 1)})

    return report


@shared_task(bind=True, name="analysis.aggregate_ratings")
def aggregate_ratings(self: Task, study_id: int) -> dict[str, Any]:
    cells = cells_aggregate(study_id=study_id, progress=_reporter(self))
    return {"study_id": study_id, "cells": cells}


@shared_task(name="analysis.aggregate_studies_in_rating")
def aggregate_studies_in_rating() -> int:
    """Run by beat (schedule editable in the admin): refresh the means of studies collecting."""
    study_ids = list(Study.objects.filter(phase=Study.Phase.RATING).values_list("id", flat=True))
    for study_id in study_ids:
        aggregate_ratings.delay(study_id)
    return len(study_ids)


@shared_task(name="analysis.requeue_unsent_jobs")
def requeue_unsent_jobs() -> int:
    """Run by beat: send the jobs and analyses requested while the broker was unreachable."""
    from analysis.crosscultural.services import analyses_send_unsent
    from analysis.jobs import UNSENT_GRACE, jobs_send_unsent  # jobs imports this module

    return jobs_send_unsent() + analyses_send_unsent(older_than=UNSENT_GRACE)


@shared_task(bind=True, name="analysis.check_quality")
def check_quality(self: Task, study_id: int) -> dict[str, Any]:
    run = quality_check(study_id=study_id, progress=_reporter(self))
    return {
        "study_id": study_id,
        "run_id": run.pk,
        "checked": run.participants_checked,
        "excluded": run.participants_excluded,
    }


@shared_task(bind=True, name="analysis.export_snapshot", acks_late=False)
def export_snapshot(self: Task, study_id: int) -> dict[str, Any]:
    # acks_late off: a worker killed mid-export must not have the export redelivered forever;
    # the half-built snapshot stays invisible and a researcher starts a new one.
    snapshot = snapshot_export(
        study_id=study_id, task_id=self.request.id or "", progress=_reporter(self)
    )
    return {"study_id": study_id, "snapshot_id": snapshot.pk, "version": snapshot.version}
