"""Queue an analysis job for a study, recorded so the admin can show its progress."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

from celery import Task
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from analysis.models import JobRun
from analysis.tasks import aggregate_ratings, check_quality, export_snapshot
from moodlab.queueing import task_publish, task_publish_on_commit

JOB_TASKS: dict[str, Task] = {
    JobRun.Kind.AGGREGATE: aggregate_ratings,
    JobRun.Kind.QUALITY: check_quality,
    JobRun.Kind.EXPORT: export_snapshot,
}
# A job the request could not send is left to the sweeper once this old; younger ones may
# still be on their way from the request that created them.
UNSENT_GRACE = timedelta(minutes=1)


@transaction.atomic
def job_request(*, study_id: int, kind: str, user: User | AnonymousUser | None) -> JobRun:
    """Record the request and send the task once the transaction commits.

    The task id is chosen here so the JobRun row and Celery's TaskResult share it. With the
    broker down the request still succeeds; `jobs_send_unsent` sends the job later.
    """
    task = JOB_TASKS[kind]
    task_id = str(uuid.uuid4())
    requested_by = user if isinstance(user, User) else None
    job = JobRun.objects.create(
        study_id=study_id, kind=kind, task_id=task_id, requested_by=requested_by
    )
    task_publish_on_commit(
        lambda: task.apply_async(args=(study_id,), task_id=task_id),
        what=f"job {task_id}",
        on_sent=lambda _result: JobRun.objects.filter(pk=job.pk, queued_at__isnull=True).update(
            queued_at=timezone.now()
        ),
    )
    return job


def jobs_send_unsent() -> int:
    """Send the jobs no broker took; returns how many went out.

    Each job is claimed by a conditional UPDATE before it is sent, so two sweepers never send
    one job twice; a send that fails again releases the claim for the next sweep.
    """
    sent = 0
    stale = JobRun.objects.filter(
        queued_at__isnull=True, requested_at__lte=timezone.now() - UNSENT_GRACE
    )
    for job in stale.order_by("requested_at"):
        if not JobRun.objects.filter(pk=job.pk, queued_at__isnull=True).update(
            queued_at=timezone.now()
        ):
            continue
        send = partial(JOB_TASKS[job.kind].apply_async, args=(job.study_id,), task_id=job.task_id)
        result = task_publish(send, what=f"job {job.task_id}")
        if result is None:
            JobRun.objects.filter(pk=job.pk).update(queued_at=None)
            break  # the broker is still down: the next sweep tries again
        sent += 1
    return sent
