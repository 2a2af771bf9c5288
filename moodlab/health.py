"""GET /healthz: is each part of the platform reachable? Load balancers and people both read it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from moodlab.celery import app as celery_app
from moodlab.staticfiles import static_manifest_problem

CHECK_TIMEOUT_SECONDS = 2


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return {"status": "down", "error": _short(exc)}
    return {"status": "ok", "vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL:
        return {"status": "ok", "mode": "in-process"}
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return {"status": "down", "error": _short(exc)}
    return {"status": "ok"}


def check_workers() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_BROKER_URL:
        return {"status": "ok", "mode": "in-process"}
    try:
        replies = celery_app.control.ping(timeout=CHECK_TIMEOUT_SECONDS) or []
    except Exception as exc:
        return {"status": "down", "error": _short(exc)}
    if not replies:
        return {"status": "down", "error": "no worker answered"}
    return {"status": "ok", "workers": sorted(name for reply in replies for name in reply)}


def check_static() -> dict[str, Any]:
    if problem := static_manifest_problem():
        return {"status": "down", "error": problem}
    return {"status": "ok"}


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker(), "static": check_static()}
    # Asking workers goes through the broker: with the broker down, the answer is known.
    checks["workers"] = (
        check_workers()
        if checks["broker"]["status"] == "ok"
        else {"status": "down", "error": "broker unreachable"}
    )
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )
