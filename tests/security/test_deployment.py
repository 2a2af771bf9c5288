"""The documented deployment: secrets, proxy trust and what gunicorn writes to its log."""

from __future__ import annotations

import runpy
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from gunicorn.config import Config
from gunicorn.glogging import Logger

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "platform" / "gunicorn.conf.py"


def production_settings(tmp_path: Path, secret_key: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "moodlab.settings.production",
            "MOODLAB_VAR_DIR": str(tmp_path),
            "SECRET_KEY": secret_key,
        },
    )


def example_secret_key() -> str:
    lines = (REPO / "platform" / "env.example").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith("SECRET_KEY="))


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param(example_secret_key(), id="the env.example key"),
        pytest.param("insecure-embedded-default-key-do-not-use-in-production", id="embedded"),
        pytest.param("a" * 49, id="49 characters"),
        pytest.param("django-insecure-" + "q" * 50, id="django's startproject key"),
    ],
)
def test_production_refuses_published_or_short_secret_keys(tmp_path, secret_key):
    result = production_settings(tmp_path, secret_key)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


def test_production_starts_with_a_long_random_key(tmp_path):
    result = production_settings(tmp_path, "k3y-" + "x9Qz" * 12 + "ab")  # 54 characters
    assert result.returncode == 0, result.stderr


def test_compose_reads_the_operators_env_file_not_the_example():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["env_file"] == "platform/.env"
    assert "platform/.env" in (REPO / ".gitignore").read_text().splitlines()
    assert "env.example" not in (REPO / "docker-compose.yml").read_text().replace(
        "cp platform/env.example", ""
    )


def gunicorn_settings(monkeypatch, **env: str) -> dict:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_trusts_forwarded_headers_only_from_configured_proxies(monkeypatch):
    assert gunicorn_settings(monkeypatch)["forwarded_allow_ips"] == "127.0.0.1"
    configured = gunicorn_settings(monkeypatch, FORWARDED_ALLOW_IPS="10.0.0.5,10.0.0.6")
    assert configured["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scheme_seen_through_gunicorn(tmp_path: Path, forwarded_allow_ips: str) -> int:
    """Status of a forged `X-Forwarded-Proto: https` request to production gunicorn: a
    301 to https means Django saw plain http, i.e. did not believe the header."""
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "moodlab.settings.production",
        "SECRET_KEY": "k3y-" + "x9Qz" * 16,
        "ALLOWED_HOSTS": "moodlab.example.org",
        "MOODLAB_VAR_DIR": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "FORWARDED_ALLOW_IPS": forwarded_allow_ips,
    }
    # As the entrypoint's web role does: gunicorn refuses to start without the manifest.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "moodlab.wsgi:application", "-c", str(GUNICORN_CONF)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/docs/",
                    headers={"Host": "moodlab.example.org", "X-Forwarded-Proto": "https"},
                    follow_redirects=False,
                    timeout=5,
                )
                return response.status_code
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_forged_forwarded_proto_from_an_untrusted_address_is_not_believed(tmp_path):
    assert scheme_seen_through_gunicorn(tmp_path, forwarded_allow_ips="10.0.0.5") == 301


def test_a_configured_proxys_forwarded_proto_is_believed(tmp_path):
    assert scheme_seen_through_gunicorn(tmp_path, forwarded_allow_ips="127.0.0.1") != 301


def test_the_access_log_never_records_an_entry_links_panel_id(monkeypatch):
    config = Config()
    config.set("access_log_format", gunicorn_settings(monkeypatch)["access_log_format"])
    logger = Logger(config)
    path = "/study/demo/en-US/"
    query = "PROLIFIC_PID=5f1c0ffee0ddba11&STUDY_ID=s1&SESSION_ID=abc"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://panel.example/{path}?{query}",
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="302 Found", sent=0, headers=[], response_length=0)
    request = SimpleNamespace(headers=[])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    line = config.access_log_format % atoms
    assert "GET /study/demo/en-US/ HTTP/1.1" in line
    assert "5f1c0ffee0ddba11" not in line and "PROLIFIC_PID" not in line
