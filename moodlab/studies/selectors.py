"""Reads of the study domain, scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from moodlab.studies.models import Participant, Song, Study, participant_token_hash


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


def song_queryset_with_audio_failures(songs: QuerySet[Song]) -> QuerySet[Song]:
    """Songs with `audio_failures`: the trials and turns skipped because the clip failed to
    load twice in a participant's browser. One subquery per phase, no N+1 on a list."""
    from elicitation.models import Turn
    from rating.models import Trial

    def failures(model: type[Trial] | type[Turn]) -> Coalesce:
        counted = (
            model.objects.filter(song=OuterRef("pk"), status=model.Status.NO_AUDIO)
            .order_by()
            .values("song")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return songs.annotate(audio_failures=failures(Trial) + failures(Turn))
