"""The refusals every service raises, whoever called it.

Services know nothing of HTTP: the API's exception handler (`moodlab.api.errors`) maps
these to status codes, the admin and the management commands show `messages`, Celery
tasks log them. Nothing was changed when one is raised: the service's transaction rolls
back. `code` is what clients may branch on (the participant pages read some), so it is
part of the API contract.

Django's own `ValidationError` stays where Django expects it: model and field validation
(`Model.clean`, validators, forms), which admin forms turn into field errors by themselves.
A service's refusal of a request is `Invalid`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class DomainError(Exception):
    """A service refused the request as asked; nothing was changed."""

    default_message = "This cannot be done."
    default_code = "error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        super().__init__(self.message)

    @property
    def messages(self) -> list[str]:
        """Every message, for a researcher to read (admin messages, command errors)."""
        return [self.message]

    def __str__(self) -> str:
        return " ".join(self.messages)


class NotFound(DomainError):
    """What the request names does not exist, or not for this caller."""

    default_message = "Not found."
    default_code = "not_found"


class Conflict(DomainError):
    """The request contradicts what is stored (a second, different answer; a stale turn)."""

    default_message = "This conflicts with what is already stored."
    default_code = "conflict"


class Refused(DomainError):
    """The participant's session is not at a point where this request may come."""

    default_message = "This cannot be done now."
    default_code = "refused"


class StepsPending(Refused):
    """Steps (consent, prescreens) must be done before this request."""

    default_code = "steps_pending"

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        super().__init__(f"Complete these steps first: {', '.join(steps)}.")


class SessionEnded(Refused):
    """The session is over; no step or trial can be taken any more."""

    default_code = "session_ended"


class Invalid(DomainError):
    """The request's values are wrong; `fields` names each bad field, as forms do.

    Without fields it is a refusal of the request as a whole, named by its `code`.
    """

    default_message = "Invalid input."
    default_code = "invalid"

    def __init__(
        self,
        fields: Mapping[str, Any] | None = None,
        *,
        message: str | None = None,
        code: str | None = None,
    ) -> None:
        # A single message per field reads as a one-item list, as Django's message_dict.
        self.fields: dict[str, Any] = {
            name: [errors] if isinstance(errors, str) else errors
            for name, errors in (fields or {}).items()
        }
        super().__init__(message, code=code)

    @property
    def messages(self) -> list[str]:
        return list(_texts(self.fields)) if self.fields else [self.message]


def _texts(errors: object) -> Iterator[str]:
    if isinstance(errors, str):
        yield errors
    elif isinstance(errors, Mapping):
        for value in errors.values():
            yield from _texts(value)
    elif isinstance(errors, list | tuple):
        for value in errors:
            yield from _texts(value)
