"""Database errors reach the logs without the values they quote.

PostgreSQL's messages repeat the statement's values ("DETAIL: Key (study_id,
recruiter_participant_id)=(3, 5f1c…) already exists", "invalid input syntax for type
integer: …"), and those can be a panel's participant id. The filter keeps the traceback,
the exception's class, SQLSTATE and constraint name, and drops the message.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError

REDACTED = "message withheld: database errors may quote personal data"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_database_error(error: BaseException) -> bool:
    return any(
        isinstance(link, DatabaseError | sqlite3.Error)
        or type(link).__module__.startswith("psycopg")
        for link in _chain(error)
    )


def redacted(error: BaseException) -> str:
    """`Class (SQLSTATE …, constraint …): message withheld…`, from every link of the chain."""
    details = []
    for link in _chain(error):
        if code := getattr(link, "pgcode", None):
            details.append(f"SQLSTATE {code}")
        diag = getattr(link, "diag", None)
        if constraint := getattr(diag, "constraint_name", None):
            details.append(f"constraint {constraint}")
    names = " ".join(dict.fromkeys(details))
    return (
        f"{type(error).__module__}.{type(error).__qualname__}"
        + (f" ({names})" if names else "")
        + f": {REDACTED}"
    )


class RedactDatabaseErrors(logging.Filter):
    """On a handler: rewrites records carrying a database error, whichever logger made them."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and _is_database_error(error):
            record.exc_text = (
                "Traceback (most recent call last):\n"
                + "".join(traceback.format_tb(error.__traceback__))
                + redacted(error)
            )
        if isinstance(record.args, tuple):
            record.args = tuple(_safe(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _safe(value) for key, value in record.args.items()}
        return True


def _safe(arg: Any) -> Any:
    return redacted(arg) if isinstance(arg, BaseException) and _is_database_error(arg) else arg


def install_on(logger: logging.Logger, **_: Any) -> None:
    """For Celery's logging signals: the worker sets up its own handlers."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactDatabaseErrors) for f in handler.filters):
            handler.addFilter(RedactDatabaseErrors())
