"""Reads of the study domain, scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Count,
    Expression,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from moodlab.studies.extensions import extensions
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
    total: Expression = Value(0)
    for extension in extensions():
        if extension.skipped_for_audio is not None:
            counted = (
                extension.skipped_for_audio()
                .filter(song=OuterRef("pk"))
                .order_by()
                .values("song")
                .annotate(n=Count("pk"))
                .values("n")
            )
            total = total + Coalesce(Subquery(counted, output_field=IntegerField()), 0)
    return songs.annotate(audio_failures=total)


def songs_playable(*, study: Study) -> QuerySet[Song]:
    """What "playable" means, in one place: an audio file with a known duration above zero.

    The database can say that much; `songs_without_playable_audio` also asks the storage
    whether each file is really there.
    """
    return Song.objects.filter(study=study, duration_seconds__gt=0).exclude(audio="")


def songs_without_playable_audio(*, study: Study) -> list[Song]:
    """The study's songs a participant could not play: no file, no duration, or file gone."""
    silent = list(
        Song.objects.filter(study=study)
        .filter(Q(audio="") | Q(duration_seconds__isnull=True) | Q(duration_seconds__lte=0))
        .order_by("external_id")
    )
    for song in songs_playable(study=study).order_by("external_id"):
        if not song.audio.storage.exists(song.audio.name or ""):
            silent.append(song)
    return silent
