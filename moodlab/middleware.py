"""Clean errors for what must not reach a view: a lost database (503, retryable), a request
body over the size limit (413), a NUL character in the address (400)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

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
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE, whatever its content type, before
    anything reads it; signed-in researchers' uploads have their own, larger limit.

    Django checks its limit only when `request.body` is read, skips multipart file parts,
    and spools those to disk first; DRF's parsers read the stream and skip the check. This
    runs after the authentication middleware and before any view or CSRF check reads the
    body. A body without Content-Length (chunked) is read as empty by Django's bounded
    stream, so the declared length is the whole body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is None or length <= limit:
            return self.get_response(request)
        researcher_limit = settings.RESEARCHER_UPLOAD_MAX_BYTES
        if length <= researcher_limit and _is_researcher(request):
            return self.get_response(request)
        allowed = researcher_limit if _is_researcher(request) else limit
        return JsonResponse(
            error_body(
                status=413,
                code="request_too_large",
                message=f"The request body may be at most {allowed} bytes.",
            ),
            status=413,
        )


def _is_researcher(request: HttpRequest) -> bool:
    """Staff signed in to the admin, or calling the API with their token."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return bool(user.is_staff and user.is_active)
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.exceptions import APIException
    from rest_framework.settings import api_settings

    authentications: Sequence[Any] = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    for authentication in authentications:
        if issubclass(authentication, SessionAuthentication):
            continue  # the session was looked at above
        try:
            found = authentication().authenticate(request)
        except APIException:
            return False
        if found is not None:
            return bool(found[0].is_staff and found[0].is_active)
    return False


class UnusableInputMiddleware:
    """400 for a NUL character in the address (path, query keys or values).

    No page or API route can use one, and PostgreSQL refuses to compare or store it, so it
    surfaced as a 500. API clients get the JSON error envelope, people a translated page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    error_body(
                        status=400,
                        code="invalid",
                        message="The address may not contain NUL characters.",
                    ),
                    status=400,
                )
            from moodlab.studies.pages import render_bad_request

            return render_bad_request(request)
        return self.get_response(request)
