"""Elicitation test data, built through the real services."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from elicitation.models import Chain, ChainTag, Turn
from elicitation.services.chains import FLAG, TurnSubmission, turn_claim, turn_submit
from moodlab.studies.models import Participant, Song, Study, StudyLocale
from moodlab.studies.normalization import clean_tag, grouping_key
from moodlab.studies.services.participants import participant_enter
from moodlab.studies.services.studies import study_add_locale
from tests.factories import SongFactory, StudyFactory, ready_for_trials

CLIP_SECONDS = 8.0


def elicitation_study(
    *, locales: Sequence[str] = ("en-US",), songs: int = 1, **params: object
) -> Study:
    """A study in the elicitation phase with `songs` songs of 8-second clips."""
    study = StudyFactory(phase=Study.Phase.ELICITATION, require_recruiter_id=False, **params)
    for code in locales:
        study_add_locale(study=study, code=code)
    SongFactory.create_batch(songs, study=study, duration_seconds=CLIP_SECONDS)
    return study


def participant_in(study: Study, code: str | None = None) -> Participant:
    """A participant who entered by link, consented and passed the prescreens."""
    locale = study.locales.get(code=code) if code else study.locales.first()
    participant, _ = participant_enter(
        study=study, locale=locale, recruiter_participant_id=uuid.uuid4().hex
    )
    return ready_for_trials(participant)


def take_turn(
    participant: Participant,
    *,
    ratings: Mapping[int, int | str] | None = None,
    new_tags: Sequence[str] = (),
    audio_played_seconds: float = CLIP_SECONDS,
) -> Turn:
    """Claim the participant's turn and submit it."""
    turn = turn_claim(participant=participant)
    assert turn is not None, "the participant has no turn to take"
    return turn_submit(
        participant=participant,
        turn_id=turn.pk,
        submission=TurnSubmission(
            ratings=ratings or {},
            new_tags=list(new_tags),
            audio_played_seconds=audio_played_seconds,
        ),
    )


def chain_with_tags(
    locale: StudyLocale, song: Song, tags: Mapping[str, Sequence[int | str]], index: int = 0
) -> Chain:
    """A chain whose tags already carry these ratings ("flag" counts as 0), built directly
    so that curation tests know every number."""
    chain = Chain.objects.create(study=locale.study, locale=locale, song=song, index=index)
    for typed, ratings in tags.items():
        text = clean_tag(typed, language=locale.language)
        ChainTag.objects.create(
            chain=chain,
            locale=locale,
            text=text,
            key=grouping_key(text, language=locale.language),
            ratings_count=len(ratings),
            ratings_sum=sum(value for value in ratings if value != FLAG),
            flag_count=sum(1 for value in ratings if value == FLAG),
        )
    return chain
