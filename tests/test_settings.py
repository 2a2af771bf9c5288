"""Settings come from the environment; with nothing set, MoodLab runs embedded."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "snapshots": settings.STORAGES["snapshots"]["BACKEND"],
    "endpoint": settings.AWS_S3_ENDPOINT_URL,
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "secure_cookies": settings.SESSION_COOKIE_SECURE,
}))
"""


def settings_with(
    env: dict[str, str], module: str = "moodlab.settings.base"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": module, **env},
    )


def test_with_nothing_set_moodlab_runs_embedded(tmp_path):
    result = settings_with({"MOODLAB_VAR_DIR": str(tmp_path / "var")})
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(tmp_path / "var" / "moodlab.sqlite3")
    assert (tmp_path / "var").is_dir()
    assert seen["eager"] is True
    assert seen["storage"] == "django.core.files.storage.FileSystemStorage"
    assert seen["snapshots"] == "django.core.files.storage.FileSystemStorage"
    assert seen["debug"] is False


def test_configured_services_replace_the_embedded_ones(tmp_path):
    result = settings_with(
        {
            "MOODLAB_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://u:p@db.internal:5432/moodlab",
            "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
            "AWS_STORAGE_BUCKET_NAME": "moodlab-media",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "ALLOWED_HOSTS": "moodlab.example.org, api.moodlab.example.org",
            "SECURE_COOKIES": "true",
            "DEBUG": "0",
        }
    )
    seen = json.loads(result.stdout)
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["db_name"] == "moodlab"
    assert (seen["eager"], seen["broker"]) == (False, "redis://cache.internal:6379/0")
    assert seen["storage"] == seen["snapshots"] == "storages.backends.s3.S3Storage"
    assert seen["endpoint"] == "http://127.0.0.1:9000"
    assert seen["hosts"] == ["moodlab.example.org", "api.moodlab.example.org"]
    assert seen["secure_cookies"] is True


def test_a_malformed_boolean_is_refused_rather_than_guessed(tmp_path):
    result = settings_with({"MOODLAB_VAR_DIR": str(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = settings_with({"MOODLAB_VAR_DIR": str(tmp_path)}, module="moodlab.settings.production")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_production_with_a_secret_key_is_secure_by_default(tmp_path):
    result = settings_with(
        {"MOODLAB_VAR_DIR": str(tmp_path), "SECRET_KEY": "x" * 50, "DEBUG": "1"},
        module="moodlab.settings.production",
    )
    seen = json.loads(result.stdout)
    assert seen["debug"] is False
    assert seen["secure_cookies"] is True
