"""A Celery worker process killed (SIGKILL) in the middle of a snapshot export.

The export is held at a known point (the test locks the aggregates table the export writes
after reserving its version), the pool process running it is killed, and then released:
Celery retries the task, the abandoned version is marked failed, the retry publishes the
next version, and data users never see the half-built one.
"""

from __future__ import annotations

import os
import signal

import psycopg2
import pytest
from django.db import connection
from rest_framework.test import APIClient

from analysis.models import Snapshot
from analysis.services.snapshots import snapshot_set_published
from analysis.tasks import export_snapshot
from moodlab.celery import app
from tests.conftest import build_study
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.worker


def test_an_export_whose_worker_is_killed_is_retried_and_never_half_visible(
    celery_worker_factory,
):
    study = build_study(slug="killed", songs_per_country=1)
    worker = celery_worker_factory(pool="prefork")
    db = connection.settings_dict
    blocker = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432
    )
    cursor = blocker.cursor()
    cursor.execute("LOCK TABLE analysis_cellaggregate IN SHARE MODE")  # held until rollback

    result = export_snapshot.apply_async(args=(study.pk,), queue=worker.queue)
    abandoned = wait_for(
        lambda: Snapshot.objects.filter(study=study, status="building").first(),
        what="the export to reserve its version",
    )

    def pool_process() -> int | None:
        active = app.control.inspect(destination=[f"{worker.queue}@{os.uname().nodename}"])
        for tasks in (active.active() or {}).values():
            for task in tasks:
                if task["id"] == result.id:
                    return task["worker_pid"]
        return None

    os.kill(wait_for(pool_process, what="the task to run"), signal.SIGKILL)
    blocker.rollback()
    blocker.close()

    outcome = result.get(timeout=120)
    abandoned.refresh_from_db()
    assert abandoned.status == Snapshot.Status.FAILED
    assert "worker" in abandoned.error
    published = Snapshot.objects.get(pk=outcome["snapshot_id"])
    assert published.status == Snapshot.Status.COMPLETE
    assert published.version == abandoned.version + 1
    assert worker.poll() is None  # the worker itself lives on with a new pool process

    snapshot_set_published(snapshot_id=published.pk, published=True)
    listed = APIClient().get(f"/api/v1/data/studies/{study.slug}/snapshots/").json()
    assert [s["version"] for s in listed["results"]] == [published.version]
    manifest = APIClient().get(
        f"/api/v1/data/studies/{study.slug}/snapshots/{abandoned.version}/files/manifest.json"
    )
    assert manifest.status_code == 404
