"""Who may do what through the API: researchers per study, participants per session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from moodlab.studies.models import Participant
from moodlab.studies.selectors import participant_by_token, user_can_manage_study

PARTICIPANT_SESSION_KEY = "moodlab_participant_token"


class ParticipantAuthentication(authentication.BaseAuthentication):
    """A participant proves who they are with their session token.

    API clients send `Authorization: Participant <token>`; the browser pages keep the token in
    the Django session, and then CSRF is enforced as for any cookie-authenticated request.
    """

    keyword = "Participant"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Participant] | None:
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) != 2:
                raise exceptions.AuthenticationFailed("Malformed participant authorization header.")
            return AnonymousUser(), self._participant(header[1].decode("latin-1"))
        token = request._request.session.get(PARTICIPANT_SESSION_KEY)
        if not token:
            return None
        authentication.SessionAuthentication().enforce_csrf(request)
        return AnonymousUser(), self._participant(token)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    @staticmethod
    def _participant(token: str) -> Participant:
        participant = participant_by_token(token)
        if participant is None:
            raise exceptions.AuthenticationFailed("Unknown participant session.")
        return participant


class IsParticipant(BasePermission):
    message = "A participant session is required."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, Participant)


class IsStudyResearcher(BasePermission):
    """Staff only; object level, the study (or the object's study) must be one they manage.

    A write (any method but GET, HEAD, OPTIONS) also needs the view's `write_permissions`:
    the model permissions the admin asks for the same change, so a view-only researcher
    stays view-only here. A write route that names none is refused to everyone.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method in SAFE_METHODS:
            return True
        required: tuple[str, ...] = getattr(view, "write_permissions", ())
        return bool(required) and user.has_perms(required)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        study = getattr(obj, "study", obj)
        return user_can_manage_study(request.user, study)
