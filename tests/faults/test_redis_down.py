"""Redis down: participants keep rating, /healthz says what is down, jobs go out once it is
back. MoodLab runs in its own process with its broker and cache on a Redis we stop."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import redis
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.authtoken.models import Token

from analysis.crosscultural.models import CrossCulturalAnalysis
from analysis.models import JobRun
from analysis.services.jobs import job_request, jobs_send_unsent
from analysis.tasks import export_snapshot
from moodlab.studies.models import Study
from rating.models import Rating
from tests.conftest import beat_task_scheduled_by
from tests.factories import StudyFactory, UserFactory
from tests.faults.conftest import ROOT, database_url
from tests.rating.factories import rating_study_with


def rate_a_whole_session(client: httpx.Client, study: Study) -> tuple[str, int]:
    """Enter, rate every trial, finish; returns the session token and the ratings sent."""
    entered = client.post(
        "/api/v1/participants/",
        json={"study": study.slug, "locale": "en-US", "recruiter_participant_id": "P-REDIS"},
    )
    assert entered.status_code == 201, entered.text
    token = entered.json()["token"]
    headers = {"Authorization": f"Participant {token}"}
    sent = 0
    while (current := client.get("/api/v1/rating/trial/", headers=headers).json())["trial"]:
        trial = current["trial"]
        ratings = {str(term["id"]): 3 for term in trial["terms"]}
        submitted = client.post(
            f"/api/v1/rating/trials/{trial['id']}/submit/",
            headers=headers,
            json={"ratings": ratings, "audio_played_seconds": 60},
        )
        assert submitted.status_code == 200, submitted.text
        sent += len(ratings)
    finished = client.post("/api/v1/rating/finish/", headers=headers)
    assert finished.status_code == 200, finished.text
    return token, sent


def test_participants_rate_and_researchers_queue_jobs_while_redis_is_down(app_server, redis_server):
    study = rating_study_with(trials_per_participant=3, repeat_trials=1)
    researcher = UserFactory(
        username="redis-down", permissions=["crosscultural.add_crossculturalanalysis"]
    )
    study.researchers.add(researcher)
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_server.url(0),
        "CELERY_RESULT_BACKEND": "django-db",
        "CACHE_URL": redis_server.url(1),  # throttling state: fails open
    }
    server = app_server(env)  # Redis never started: nothing listens on its port

    with server.client() as client:
        _token, sent = rate_a_whole_session(client, study)
        assert Rating.objects.filter(participant__study=study).count() == sent

        health = client.get("/healthz")
        assert health.status_code == 503
        checks = health.json()["checks"]
        assert checks["database"]["status"] == "ok"
        assert checks["broker"]["status"] == "down"

        key = Token.objects.create(user=researcher).key
        started = client.post(
            f"/api/v1/studies/{study.slug}/analyses/",
            headers={"Authorization": f"Token {key}"},
            json={"params": {}},
        )
        assert started.status_code == 202, started.text
    analysis = CrossCulturalAnalysis.objects.get(pk=started.json()["id"])
    assert analysis.status == CrossCulturalAnalysis.Status.QUEUED
    assert analysis.celery_task_id == ""  # recorded, not sent

    redis_server.start()
    CrossCulturalAnalysis.objects.filter(pk=analysis.pk).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    sweep = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from analysis.tasks import requeue_unsent_jobs; print(requeue_unsent_jobs())",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "moodlab.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert sweep.stdout.strip().splitlines()[-1] == "1"
    analysis.refresh_from_db()
    assert analysis.celery_task_id
    assert redis.Redis.from_url(redis_server.url(0)).llen("celery") == 1

    with server.client() as client:
        checks = client.get("/healthz").json()["checks"]
    assert checks["broker"]["status"] == "ok"


def test_a_job_requested_while_the_broker_is_down_is_sent_by_the_next_sweep(
    db, monkeypatch, django_capture_on_commit_callbacks, admin_client
):
    study = StudyFactory()
    sent = []

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(export_snapshot, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_request(study_id=study.pk, kind=JobRun.Kind.EXPORT, user=None)
    job.refresh_from_db()
    assert job.queued_at is None
    history = admin_client.get(reverse("admin:analysis_jobrun_changelist")).content.decode()
    assert "waiting for the broker" in history
    assert jobs_send_unsent() == 0  # too young: its own request may still be sending it

    JobRun.objects.filter(pk=job.pk).update(requested_at=timezone.now() - timedelta(minutes=2))
    assert jobs_send_unsent() == 0  # still down: released for the next sweep
    assert JobRun.objects.get(pk=job.pk).queued_at is None

    monkeypatch.setattr(export_snapshot, "apply_async", lambda **kw: sent.append(kw) or kw)
    assert jobs_send_unsent() == 1
    assert sent == [{"args": (study.pk,), "task_id": job.task_id}]
    assert JobRun.objects.get(pk=job.pk).queued_at is not None
    assert jobs_send_unsent() == 0


def test_beat_sweeps_for_unsent_jobs_every_minute(transactional_db):
    task = beat_task_scheduled_by(
        "analysis.migrations.0004_requeue_schedule", "analysis.requeue_unsent_jobs"
    )
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (1, "minutes")
