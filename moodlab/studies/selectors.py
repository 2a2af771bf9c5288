"""Reads of the study domain, scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from moodlab.studies.models import Participant, Study, participant_token_hash


def studies_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Study]:
    """Superusers see every study; other researchers only the studies they are named on."""
    if not user.is_authenticated:
        return Study.objects.none()
    if getattr(user, "is_superuser", False):
        return Study.objects.all()
    return Study.objects.filter(researchers__pk=user.pk)


def user_can_manage_study(user: AbstractBaseUser | AnonymousUser, study: Study) -> bool:
    return studies_visible_to(user).filter(pk=study.pk).exists()


def participant_by_token(token: str) -> Participant | None:
    """The session a token (API header or browser session) belongs to, with what every
    participant request reads."""
    return (
        Participant.objects.select_related("study", "locale")
        .filter(token_hash=participant_token_hash(token))
        .first()
    )
