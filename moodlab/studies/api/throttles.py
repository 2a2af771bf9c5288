"""Rate limits for participant traffic: per session and per address.

Limits are generous per address, since a whole lab or campus may share one; the per-session
limit is what stops a script hammering one participant's trials.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from moodlab.studies.models import Participant


class ParticipantSubmitThrottle(SimpleRateThrottle):
    scope = "participant_submit"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, Participant):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class AddressSubmitThrottle(SimpleRateThrottle):
    scope = "address_submit"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


PARTICIPANT_THROTTLES = [ParticipantSubmitThrottle, AddressSubmitThrottle]
