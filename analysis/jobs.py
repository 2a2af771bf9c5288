"""Queue an analysis job for a study, recorded so the admin can show its progress."""

from __future__ import annotations

import uuid

from celery import Task
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from analysis.models import JobRun
from analysis.tasks import aggregate_ratings, check_quality, export_snapshot

JOB_TASKS: dict[str, Task] = {
    JobRun.Kind.AGGREGATE: aggregate_ratings,
    JobRun.Kind.QUALITY: check_quality,
    JobRun.Kind.EXPORT: export_snapshot,
}


@transaction.atomic
def job_request(*, study_id: int, kind: str, user: User | AnonymousUser | None) -> JobRun:
    """Record the request and send the task once the transaction commits.

    The task id is chosen here so the JobRun row and Celery's TaskResult share it.
    """
    task = JOB_TASKS[kind]
    task_id = str(uuid.uuid4())
    requested_by = user if isinstance(user, User) else None
    job = JobRun.objects.create(
        study_id=study_id, kind=kind, task_id=task_id, requested_by=requested_by
    )
    transaction.on_commit(lambda: task.apply_async(args=(study_id,), task_id=task_id))
    return job
