"""Celery tasks of the analysis jobs: each takes a study id and calls one service."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import Task, shared_task

from analysis.services.aggregation import Progress, cells_aggregate
from analysis.services.outcomes import (
    aggregation_report,
    export_report,
    job_run_finish,
    quality_report,
)
from analysis.services.quality import quality_check
from analysis.services.snapshots import snapshot_export
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
    report = aggregation_report(study_id=study_id, cells=cells)
    job_run_finish(task_id=self.request.id or "", report=report)
    return {"study_id": study_id, "cells": cells, **report.as_json()}


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
    from analysis.services.jobs import UNSENT_GRACE, jobs_send_unsent  # jobs imports this module

    return jobs_send_unsent() + analyses_send_unsent(older_than=UNSENT_GRACE)


@shared_task(bind=True, name="analysis.check_quality")
def check_quality(self: Task, study_id: int) -> dict[str, Any]:
    run = quality_check(study_id=study_id, progress=_reporter(self))
    report = quality_report(run=run)
    job_run_finish(task_id=self.request.id or "", report=report)
    return {
        "study_id": study_id,
        "run_id": run.pk,
        "checked": run.participants_checked,
        "excluded": run.participants_excluded,
        **report.as_json(),
    }


# Storage that cannot be reached (S3 down, a full disk): worth retrying later.
STORAGE_UNAVAILABLE = (BotoCoreError, ClientError, OSError)


class RetriedWhenWorkerLost(Task):
    """A worker killed mid-task (OOM, deploy) gets the task retried, counted against
    max_retries, so a task that kills its worker every time cannot loop forever."""

    retry_on_worker_lost = True  # Celery 5.7; the stubs do not know it yet


@shared_task(
    bind=True,
    base=RetriedWhenWorkerLost,
    name="analysis.export_snapshot",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=STORAGE_UNAVAILABLE,
    retry_backoff=True,
    retry_backoff_max=10 * 60,
    max_retries=5,
    default_retry_delay=5,
)
def export_snapshot(self: Task, study_id: int) -> dict[str, Any]:
    # Every attempt builds a new version; a failed or abandoned one stays invisible.
    snapshot = snapshot_export(
        study_id=study_id, task_id=self.request.id or "", progress=_reporter(self)
    )
    report = export_report(snapshot=snapshot)
    job_run_finish(task_id=self.request.id or "", report=report)
    return {
        "study_id": study_id,
        "snapshot_id": snapshot.pk,
        "version": snapshot.version,
        **report.as_json(),
    }
