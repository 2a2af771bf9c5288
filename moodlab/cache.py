"""A Redis cache that fails open: losing Redis must never fail a participant's request.

Only throttling and other best-effort data live in the cache, so a miss is always safe.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


class FailOpenRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except REDIS_DOWN as exc:
            logger.warning("cache unavailable, treating %r as a miss: %s", key, exc)
            return default

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except REDIS_DOWN as exc:
            logger.warning("cache unavailable, not storing %r: %s", key, exc)

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except REDIS_DOWN as exc:
            logger.warning("cache unavailable, not adding %r: %s", key, exc)
            return False

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        """A counter of a lost Redis reads as new (delta): rate limits let requests through."""
        try:
            return super().incr(key, delta, version)
        except REDIS_DOWN as exc:
            logger.warning("cache unavailable, counting %r from scratch: %s", key, exc)
            return delta
