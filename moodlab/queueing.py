"""Sending Celery tasks from web requests without depending on the broker.

A request that queues a job records it in the database first; the message is sent once the
transaction commits. If Redis is down then, the request still succeeds: the failure is
logged and the row stays marked unsent, for the beat sweeper (`analysis.requeue_unsent_jobs`)
to send again once the broker is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.result import AsyncResult
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

BROKER_DOWN = (BrokerOperationalError, RedisConnectionError, RedisTimeoutError, OSError)


def task_publish(send: Callable[[], AsyncResult], *, what: str) -> AsyncResult | None:
    """Send now; None (and a warning) when the broker cannot be reached."""
    try:
        return send()
    except BROKER_DOWN as exc:
        logger.warning("broker unavailable, %s stays unsent for the sweeper: %s", what, exc)
        return None


def task_publish_on_commit(
    send: Callable[[], AsyncResult],
    *,
    what: str,
    on_sent: Callable[[AsyncResult], Any] | None = None,
) -> None:
    """Send once the current transaction commits (a worker must see the rows it reads)."""

    def publish() -> None:
        result = task_publish(send, what=what)
        if result is not None and on_sent is not None:
            on_sent(result)

    transaction.on_commit(publish)
