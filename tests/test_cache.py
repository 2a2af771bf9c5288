from moodlab.cache import FailOpenRedisCache


def unreachable_cache() -> FailOpenRedisCache:
    return FailOpenRedisCache(
        "redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}
    )


def live_cache() -> FailOpenRedisCache:
    return FailOpenRedisCache("redis://127.0.0.1:6379/13", {})


def test_with_redis_down_the_cache_answers_misses_instead_of_raising():
    cache = unreachable_cache()
    cache.set("k", 1)
    assert cache.add("k", 1) is False
    assert cache.get("k", "fallback") == "fallback"


def test_with_redis_up_it_is_an_ordinary_cache():
    cache = live_cache()
    cache.delete("k")
    assert cache.add("k", 41) is True
    cache.set("k", 42)
    assert cache.get("k") == 42


def test_with_redis_down_a_counter_reads_as_new():
    assert unreachable_cache().incr("throttle_k", 1) == 1


def test_with_redis_up_counters_count():
    cache = live_cache()
    cache.delete("counter")
    cache.add("counter", 1, 60)
    assert cache.incr("counter") == 2
