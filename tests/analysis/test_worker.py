"""The export task through a real Celery worker process and Redis, as in production."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django_celery_results.models import TaskResult

from analysis.models import Snapshot
from analysis.tasks import export_snapshot
from moodlab.celery import app
from moodlab.simulation import RaterKind
from tests.analysis.factories import give_songs_a_clip, rating_terms, simulate_participant
from tests.conftest import build_study

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def worker(tmp_path):
    """A worker on a queue of its own, using the test database and this test's folders."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "moodlab.settings.base",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "MOODLAB_VAR_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "moodlab",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    yield queue
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_exports_a_snapshot_the_api_can_then_list(worker, monkeypatch, tmp_path):
    study = build_study(locales=("en-US",), slug="worker-export")
    locale = study.locales.get()
    rng = np.random.default_rng(3)
    simulate_participant(
        study=study,
        locale=locale,
        kind=RaterKind.CAREFUL,
        rng=rng,
        songs=give_songs_a_clip(study)[:5],
        terms=rating_terms(locale, 3),
        repeats=1,
    )
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", BROKER)

    result = export_snapshot.apply_async(args=[study.pk], queue=worker)
    outcome = result.get(timeout=120)

    snapshot = Snapshot.objects.get(pk=outcome["snapshot_id"])
    assert (snapshot.status, snapshot.task_id) == (Snapshot.Status.COMPLETE, result.id)
    assert TaskResult.objects.get(task_id=result.id).worker  # a worker, not in-process, ran it
    assert (tmp_path / "snapshots" / study.slug / "1" / "manifest.json").is_file()
