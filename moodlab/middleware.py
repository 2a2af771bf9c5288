"""Clean JSON errors for what must not reach a view: a lost database (503, retryable) and a
request body over the size limit (413)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from moodlab.api.errors import error_body

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
            error_body(
                status=503,
                code="database_unavailable",
                message="The service is briefly unavailable. Please try again in a moment.",
            ),
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


class RequestSizeLimitMiddleware:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, before anything reads it.

    Django checks the limit only when `request.body` is read, and answers a bare 400 page;
    DRF's parsers read the stream and skip the check. File uploads (multipart) are limited
    by their own form fields, as Django does.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        multipart = request.content_type == "multipart/form-data"
        if limit is not None and length > limit and not multipart:
            return JsonResponse(
                error_body(
                    status=413,
                    code="request_too_large",
                    message=f"The request body may be at most {limit} bytes.",
                ),
                status=413,
            )
        return self.get_response(request)
