"""The production cache as settings configure it (django-redis, failing open), on a Redis that
answers and on one that does not."""

from django.conf import settings
from django_redis.cache import RedisCache
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from moodlab.studies.api.throttles import AddressStartThrottle


def redis_cache(location: str) -> RedisCache:
    return RedisCache(location, {"OPTIONS": settings.REDIS_CACHE_OPTIONS})


def unreachable_cache() -> RedisCache:
    return redis_cache("redis://127.0.0.1:1/0")  # nothing listens on port 1


def live_cache() -> RedisCache:
    return redis_cache("redis://127.0.0.1:6379/13")


def test_with_redis_down_the_cache_answers_misses_instead_of_raising():
    cache = unreachable_cache()
    cache.set("k", 1)
    assert not cache.add("k", 1)
    assert cache.get("k", "fallback") == "fallback"
    cache.delete("k")


def test_with_redis_up_it_is_an_ordinary_cache():
    cache = live_cache()
    cache.delete("k")
    assert cache.add("k", 41) is True
    cache.set("k", 42)
    assert cache.get("k") == 42


def test_with_redis_up_counters_count():
    cache = live_cache()
    cache.delete("counter")
    cache.add("counter", 1, 60)
    assert cache.incr("counter") == 2


def starts_allowed(cache: RedisCache, monkeypatch, attempts: int) -> int:
    """How many of `attempts` new sessions from one address the start throttle lets in."""
    monkeypatch.setattr(AddressStartThrottle, "cache", cache)
    monkeypatch.setattr(AddressStartThrottle, "rate", "2/hour", raising=False)
    request = Request(APIRequestFactory().post("/", REMOTE_ADDR="203.0.113.9"))
    return sum(AddressStartThrottle().allow_request(request, APIView()) for _ in range(attempts))


def test_with_redis_down_the_rate_limits_let_requests_through(monkeypatch):
    assert starts_allowed(unreachable_cache(), monkeypatch, attempts=4) == 4


def test_with_redis_up_the_rate_limits_count_per_window(monkeypatch):
    cache = live_cache()
    cache.delete("throttle_window_participant_start_203.0.113.9")
    assert starts_allowed(cache, monkeypatch, attempts=4) == 2
