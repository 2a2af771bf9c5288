"""gunicorn settings for the web role; each can be overridden by a GUNICORN_* variable."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycling a worker (against slow memory growth) closes its idle keep-alive connections,
# which clients see as dropped requests; at 2,000 the load benchmark saw dozens per run.
# The jitter keeps workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = "-"
# The request line without its query string, and no referrer: entry links carry the panel's
# participant id (?PROLIFIC_PID=...), personal data that must not reach the logs.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'
# Only these proxies' X-Forwarded-Proto/-For are believed (with SECURE_PROXY_SSL_HEADER a
# forged "https" would pass for a secure request); set the load balancer's address here.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: object) -> None:
    """Refuse to start when every page would answer 500: with DEBUG off, pages name their
    scripts through the manifest `manage.py collectstatic` writes (the entrypoint does)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moodlab.settings.base")
    django.setup()
    from moodlab.staticfiles import require_static_manifest

    require_static_manifest()
