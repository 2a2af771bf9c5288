import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GET_HEALTHZ = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def healthz_in_process_with(env: dict[str, str]) -> dict:
    """Each configuration needs its own process: Django and Celery read settings once."""
    result = subprocess.run(
        [sys.executable, "-c", GET_HEALTHZ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "moodlab.settings.base", **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_embedded_default_is_healthy_without_any_service(tmp_path):
    seen = healthz_in_process_with({"MOODLAB_VAR_DIR": str(tmp_path), "DEBUG": "1"})
    assert seen["status"] == 200
    assert seen["body"]["checks"]["database"] == {"status": "ok", "vendor": "sqlite"}
    assert seen["body"]["checks"]["broker"]["mode"] == "in-process"


def test_an_unreachable_database_and_broker_answer_503_saying_what_is_down(tmp_path):
    seen = healthz_in_process_with(
        {
            "MOODLAB_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        }
    )
    assert seen["status"] == 503
    checks = seen["body"]["checks"]
    assert seen["body"]["status"] == "degraded"
    assert checks["database"]["status"] == "down"
    assert "OperationalError" in checks["database"]["error"]
    assert checks["broker"]["status"] == "down"
    assert checks["workers"] == {"status": "down", "error": "broker unreachable"}


def test_a_broker_without_workers_is_reported(tmp_path):
    seen = healthz_in_process_with(
        {
            "MOODLAB_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        }
    )
    assert seen["status"] == 503
    checks = seen["body"]["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "ok"
    assert checks["workers"] == {"status": "down", "error": "no worker answered"}


def test_healthz_is_ok_with_postgres_redis_and_a_running_worker(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["database"]["vendor"] == "postgresql"
    assert any(
        name.startswith(celery_worker_process.queue) for name in checks["workers"]["workers"]
    )


def test_debug_off_without_collected_static_files_is_reported_and_gunicorn_refuses(tmp_path):
    seen = healthz_in_process_with({"MOODLAB_VAR_DIR": str(tmp_path)})
    assert seen["status"] == 503
    static = seen["body"]["checks"]["static"]
    assert static["status"] == "down"
    assert "collectstatic" in static["error"]
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "moodlab.wsgi:application",
            "--config",
            str(REPO / "platform" / "gunicorn.conf.py"),
            "--bind",
            "127.0.0.1:0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.base",
            "MOODLAB_VAR_DIR": str(tmp_path),
        },
    )
    assert started.returncode != 0
    assert "static files manifest" in started.stderr and "collectstatic" in started.stderr


def test_debug_off_after_collectstatic_serves_pages_and_is_healthy(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "moodlab.settings.base"}
    env["MOODLAB_VAR_DIR"] = str(tmp_path)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert collected.returncode == 0, collected.stderr
    seen = healthz_in_process_with({"MOODLAB_VAR_DIR": str(tmp_path)})
    assert seen["body"]["checks"]["static"] == {"status": "ok"}
    assert seen["status"] == 200
