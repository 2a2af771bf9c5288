from __future__ import annotations

from rest_framework import status
from rest_framework.exceptions import APIException


class TrialConflict(APIException):
    """The request contradicts what is already stored: answered 409, nothing changes."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the trial's stored state."
    default_code = "conflict"
