"""No Docker engine runs here, so the deployment file is checked by reading it."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_it_runs_postgres_redis_web_worker_and_beat_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert services["beat"]["command"] == ["beat"]


def test_app_services_build_from_files_that_exist():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        build = services[name]["build"]
        assert (REPO / build["context"] / build["dockerfile"]).is_file()
        # The operator's own file (git ignores it); the example it is copied from ships.
        assert services[name]["env_file"] == "platform/.env"
        assert (REPO / "platform" / "env.example").is_file()
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    dockerfile = (REPO / "platform" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert (REPO / "platform" / "entrypoint.sh").stat().st_mode & 0o111
    assert (REPO / "platform" / "gunicorn.conf.py").is_file()


def test_the_entrypoint_knows_every_role_compose_asks_for():
    entrypoint = (REPO / "platform" / "entrypoint.sh").read_text()
    for role in ("web)", "worker)", "beat)"):
        assert role in entrypoint
    assert "gunicorn moodlab.wsgi:application" in entrypoint
    assert "django_celery_beat.schedulers:DatabaseScheduler" in entrypoint


def test_data_lives_in_named_volumes():
    document = compose()
    assert {"postgres-data", "media", "redis-data"} <= set(document["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in document["services"]["postgres"]["volumes"]
