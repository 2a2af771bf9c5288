"""Reads of the elicitation data: what a participant sees in a turn, and the autocomplete."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Min, Q

from elicitation.models import ChainTag, TermAlias, Turn
from elicitation.services.chains import turn_time_budget_seconds
from elicitation.services.curation import key_groups
from moodlab.studies.models import Participant, Study, StudyLocale
from moodlab.studies.normalization import prefix_keys
from moodlab.studies.services.song_audio import song_audio_url

AUTOCOMPLETE_LIMIT = 10


# How many new tags a turn's time estimate counts: they are only known once it is answered.
NEW_TAGS_ESTIMATED_PER_TURN = 3


@dataclass(frozen=True)
class TurnView:
    """A turn as shown to its participant: frozen tags to see and visible tags to rate."""

    turn: Turn
    frozen_tags: list[ChainTag]
    tags_to_rate: list[ChainTag]
    audio_url: str | None
    estimated_seconds: int


def turn_view(*, turn: Turn, study: Study) -> TurnView:
    """The turn's tags, the ones to rate in a fresh random order so order effects average out."""
    tags = list(turn.chain.tags.exclude(state=ChainTag.State.HIDDEN))
    to_rate = [tag for tag in tags if tag.state == ChainTag.State.VISIBLE]
    random.shuffle(to_rate)
    return TurnView(
        turn=turn,
        frozen_tags=[tag for tag in tags if tag.state == ChainTag.State.FROZEN],
        tags_to_rate=to_rate,
        audio_url=song_audio_url(turn.song),
        estimated_seconds=turn_time_budget_seconds(
            study=study, tags_rated=len(to_rate), new_tags=NEW_TAGS_ESTIMATED_PER_TURN
        ),
    )


def participant_progress(*, participant: Participant) -> dict[str, int]:
    done = Turn.objects.filter(participant=participant, status=Turn.Status.SUBMITTED).count()
    return {"done": done, "total": participant.study.turns_per_participant}


def tags_autocomplete(
    *, locale: StudyLocale, prefix: str, limit: int = AUTOCOMPLETE_LIMIT
) -> list[dict[str, Any]]:
    """Tags already used in the locale whose grouping key starts like the typed prefix.

    The prefix is keyed like a tag (case, accents, Arabic letter variants, Korean spacing;
    `prefix_keys` says how its unfinished last word is treated), so the btree index with
    varchar_pattern_ops on (locale, key) serves the lookup. The most widely used groups come
    first.
    """
    matches = Q()
    for key_prefix in prefix_keys(prefix, language=locale.language):
        matches |= Q(key__startswith=key_prefix)
    if not matches:
        return []
    rows = (
        # A hidden tag was flagged by other participants: it is never suggested again.
        ChainTag.objects.filter(matches, locale=locale)
        .exclude(state=ChainTag.State.HIDDEN)
        .values("key")
        .annotate(text=Min("text"), chains=Count("id"))
        .order_by("-chains", "key")[:limit]
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class KeyShare:
    """One grouping key merged into a term, and what it adds to the term's score."""

    key: str
    frequency: int
    score: float


def curation_key_shares(*, locale: StudyLocale) -> dict[int, list[KeyShare]]:
    """Per term id: the keys merged into it, biggest contribution first.

    The curation page shows them beside each term, so a merge's effect on the score is
    visible before and after it.
    """
    groups = key_groups(locale)
    shares: dict[int, list[KeyShare]] = {}
    for key, term_id in TermAlias.objects.filter(locale=locale).values_list("key", "term_id"):
        group = groups.get(key)
        shares.setdefault(term_id, []).append(
            KeyShare(key, group.frequency if group else 0, group.score if group else 0.0)
        )
    for keys in shares.values():
        keys.sort(key=lambda share: (-share.score, share.key))
    return shares
