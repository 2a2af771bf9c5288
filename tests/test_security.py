import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_in_process(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_in_process(
        "",
        {
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.production",
            "SECRET_KEY": "k3y-" + "x9Qz" * 16,
            "ALLOWED_HOSTS": "moodlab.example.org",
            "MOODLAB_VAR_DIR": str(tmp_path),
        },
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_the_api_docs_need_no_inline_script_and_no_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


@pytest.mark.django_db
def test_admin_logins_are_locked_out_after_five_wrong_passwords(client, settings):
    from tests.factories import UserFactory

    settings.AXES_ENABLED = True
    UserFactory(username="victim", is_superuser=True)
    statuses = [
        client.post("/admin/login/", {"username": "victim", "password": "guess"}).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    locked = client.post(
        "/admin/login/", {"username": "victim", "password": "correct horse battery staple"}
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lost_database_is_a_clean_503_for_api_clients(tmp_path):
    code = """
import json, django
django.setup()
from django.test import Client
r = Client().post("/api/v1/participants/", {"study": "demo", "locale": "en-US"},
                  content_type="application/json")
print(json.dumps({"status": r.status_code, "retry": r.get("Retry-After"), "body": r.json()}))
"""
    result = run_in_process(
        code,
        {
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.base",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere",
            "MOODLAB_VAR_DIR": str(tmp_path),
        },
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == 503
    assert seen["retry"] == "5"
    assert seen["body"]["error"]["code"] == "database_unavailable"


def test_production_responses_carry_hsts_csp_and_the_isolation_headers(tmp_path):
    code = """
import json, django
django.setup()
from django.test import Client
r = Client().get("/api/schema/", secure=True, HTTP_HOST="moodlab.example.org")
print(json.dumps({"status": r.status_code, "headers": dict(r.headers)}))
"""
    result = run_in_process(
        code,
        {
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.production",
            "SECRET_KEY": "k3y-" + "x9Qz" * 16,
            "ALLOWED_HOSTS": "moodlab.example.org",
            "MOODLAB_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    headers = seen["headers"]
    assert seen["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
