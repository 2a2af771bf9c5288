from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from moodlab.studies.demo import ShortClips, demo_song_rows
from moodlab.studies.models import Study
from moodlab.studies.services.song_import import AudioSource, songs_import
from moodlab.studies.services.studies import study_add_locale, study_set_phase
from moodlab.studies.services.term_import import terms_import
from tests.factories import StudyFactory, UserFactory

REPO = Path(__file__).resolve().parents[1]
GLOBALMOOD = REPO / "moodlab" / "studies" / "demo_data"


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    """Only the .po catalogues are committed; the pages translate from compiled ones."""
    from django.core.management import call_command

    # compilemessages searches the working directory's tree for locale folders.
    with contextlib.chdir(REPO):
        call_command("compilemessages", ignore_patterns=[".*", "var"], verbosity=0)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Every test writes files to its own folder, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "snapshots": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "snapshots")},
        },
    }


@pytest.fixture(autouse=True)
def _live_server_requests_finish(request):
    """A test using the live server ends only when the server has no query left running.

    A client that gave up waiting (a timeout on a loaded machine) leaves its request running in
    the server's thread; flushing the tables under it deadlocks the test's teardown.
    """
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    import time

    from django.db import connection

    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A local S3-compatible server (moto's server mode), shared by the storage tests."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def researcher(db):
    return UserFactory(username="researcher")


def build_study(
    *,
    locales: tuple[str, ...] = ("en-US",),
    songs_per_country: int = 1,
    phase: str = "rating",
    audio: AudioSource | None = None,
    with_audio: bool = True,
    **params,
) -> Study:
    """A study built through the real services: GlobalMood songs and term lists.

    `songs_per_country=1` gives 59 songs; phase "rating" freezes the imported terms. Songs
    get short synthesised clips unless another `audio` source is given, so the phase
    pre-flight passes as it would for a real study; `with_audio=False` leaves them silent,
    which only a draft study may be. The pre-flight's warnings (no panel links) are
    confirmed, as a researcher would.
    """
    study = StudyFactory(**params)
    for code in locales:
        locale = study_add_locale(study=study, code=code)
        terms_import(
            locale=locale, csv_source=(GLOBALMOOD / f"terms_{locale.language}.csv").read_bytes()
        )
    rows = demo_song_rows(songs_per_country)
    if audio is None and with_audio:
        audio = ShortClips.for_rows(rows)
    songs_import(study=study, csv_source=rows, audio=audio)
    if phase != Study.Phase.DRAFT:
        study = study_set_phase(study=study, phase=phase, confirm=True)
    return study


@pytest.fixture
def rating_study(db) -> Study:
    return build_study(locales=("en-US", "ko-KR", "ar-EG"))


@pytest.fixture
def celery_worker_factory(transactional_db, settings, tmp_path):
    """Start real Celery worker processes on Redis, using this test's database, each on its
    own queue: `celery_worker_factory(pool="prefork", env={...})`.

    Tasks must be sent with `apply_async(queue=worker.queue)`; the test process publishes for
    real (not eagerly) while the fixture is active. Workers stop after the test.
    """
    import os
    import subprocess
    import sys
    import time
    import uuid

    from django.db import connection

    from moodlab.celery import app

    workers: list[subprocess.Popen] = []

    def start(*, pool: str = "solo", env: dict[str, str] | None = None) -> subprocess.Popen:
        queue = f"test-{uuid.uuid4().hex[:8]}"
        db = connection.settings_dict
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "moodlab",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "moodlab.settings.base",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                # Snapshots land in tmp_path/snapshots, where this test's storage looks.
                "MOODLAB_VAR_DIR": str(tmp_path),
                **(env or {}),
            },
        )
        workers.append(worker)
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start")
        worker.queue = queue  # type: ignore[attr-defined]
        return worker

    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield start
    finally:
        app.conf.task_always_eager = previous_eager
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)


@pytest.fixture
def celery_worker_process(celery_worker_factory):
    """One solo-pool worker (see celery_worker_factory)."""
    return celery_worker_factory()


def beat_task_scheduled_by(migration: str, task: str):
    """The periodic task a data migration registers, registered again first.

    Transactional tests flush every table, rows added by migrations included, so a test that
    runs after one would find no schedule: it runs the migration's step itself.
    """
    import importlib

    from django.apps import apps
    from django.db.migrations import RunPython
    from django_celery_beat.models import PeriodicTask

    module = importlib.import_module(migration)
    for operation in module.Migration.operations:
        if isinstance(operation, RunPython):
            operation.code(apps, None)
    return PeriodicTask.objects.get(task=task)
