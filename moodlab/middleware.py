"""Turn a lost database connection into a clean, retryable 503 instead of a 500 page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """A restarting PostgreSQL must not look like a bug to participants or load balancers.

    Nothing was written (the request's transaction failed with the connection), so clients
    retry safely; Django's connection health checks reconnect on the next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "database unavailable for %s %s: %s", request.method, request.path, exception
        )
        return JsonResponse(
            {
                "error": {
                    "status": 503,
                    "code": "database_unavailable",
                    "message": "The service is briefly unavailable. Please try again in a moment.",
                    "fields": {},
                }
            },
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
