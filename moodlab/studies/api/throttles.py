"""Rate limits for participant traffic: per session and per address.

Limits are generous per address, since a whole lab or campus may share one; the per-session
limit is what stops a script hammering one participant's trials.

DRF's throttles keep each request's timestamp of the last period in one cache entry and
re-pickle the whole list on every request: up to 3,000 entries per address at our rates,
the costliest part of a submission under load. These count requests in fixed windows
instead (one counter per key, an increment per request), with the same scopes, rates and
keys. A window starts at a key's first request and lasts the rate's period; a client can
get at most the rate per window, so at most twice the rate over any period that straddles
two windows, which these limits tolerate.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from moodlab.studies.models import Participant


class FixedWindowRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle counted with cache add + incr; subclasses name the scope and key."""

    # Not DRF's key names: the sliding lists it left in the cache are no counters.
    cache_format = "throttle_window_%(scope)s_%(ident)s"
    # Set by SimpleRateThrottle from the rate (the stubs do not declare them).
    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        return self._count(self.key) <= self.num_requests

    def _count(self, key: str) -> int:
        try:
            count: int | None = self.cache.incr(key)
        except ValueError:  # no window yet, or the last one just expired
            if self.cache.add(key, 1, self.duration):
                return 1
            try:
                count = self.cache.incr(key)  # another request opened the window first
            except ValueError:
                return 1
        # None: the cache is unreachable and fails open (settings.REDIS_CACHE_OPTIONS), so
        # every request counts as a window's first.
        return 1 if count is None else int(count)

    def wait(self) -> float:
        """The whole period, an upper bound: the counter does not know when its window began.
        Only a script reaches these limits, so a long wait costs no real participant."""
        return float(self.duration)


class ParticipantSubmitThrottle(FixedWindowRateThrottle):
    scope = "participant_submit"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, Participant):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AddressThrottle(FixedWindowRateThrottle):
    """Counted per client address (behind NUM_PROXIES proxies); subclasses name the scope."""

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AddressSubmitThrottle(AddressThrottle):
    scope = "address_submit"


class AddressStartThrottle(AddressThrottle):
    """New sessions per address, one count for the entry API and the entry page."""

    scope = "participant_start"


def session_start_allowed(request: HttpRequest) -> bool:
    """The entry page, a plain Django view, counts new sessions as the entry API does."""
    return AddressStartThrottle().allow_request(Request(request), APIView())


PARTICIPANT_THROTTLES = [ParticipantSubmitThrottle, AddressSubmitThrottle]
