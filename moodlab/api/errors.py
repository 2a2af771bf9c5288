"""One JSON error shape for the whole API, so clients handle every failure the same way."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from moodlab import errors

# What each domain refusal answers: the status of the first kind it is.
DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Refused, 403),  # steps pending, session ended: the participant pages read 403
    (errors.Invalid, 400),
    (errors.DomainError, 400),
]


def error_body(
    *, status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error shape; middleware answering before DRF (503, 413) uses it too."""
    return {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Wrap DRF's answer as {"error": {"status", "code", "message", "fields"}}.

    Field errors stay keyed by field name. A service's refusal (`moodlab.errors`) answers
    its status; a Django ValidationError (model validation) becomes a 400 instead of a 500.
    """
    if isinstance(exc, errors.DomainError):
        exc = _as_api_exception(exc)
    elif isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = exceptions.ValidationError(detail=detail)
    response = exception_handler(exc, context)
    if response is None:
        return None
    fields: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        message = "Invalid input."
        code = "invalid"
        data = response.data
        fields = dict(data) if isinstance(data, dict) else {"non_field_errors": data}
    else:
        data = response.data if isinstance(response.data, dict) else {}
        message = str(data.get("detail", exc))
        code = str(
            getattr(getattr(exc, "detail", None), "code", None)
            or getattr(exc, "default_code", "error")
        )
    response.data = error_body(
        status=response.status_code, code=code, message=message, fields=fields
    )
    return response


def _as_api_exception(error: errors.DomainError) -> exceptions.APIException:
    if isinstance(error, errors.Invalid) and error.fields:
        return exceptions.ValidationError(detail=error.fields)
    answer = exceptions.APIException(detail=error.message, code=error.code)
    answer.status_code = next(status for kind, status in DOMAIN_STATUS if isinstance(error, kind))
    return answer
