"""Simulated raters with known behaviour, written through the rating tests' bulk path.

The analysis jobs need many sessions whose raters are careless in known ways, so the
quality rules have ground truth: the answers come from moodlab.simulation.MoodModel and
are written by `tests.rating.factories.rated_sessions_create`, as the rating services would
leave them, cell ledger included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from django.utils import timezone

from moodlab.simulation import MoodModel, RaterKind, RaterProfile
from moodlab.studies.models import Participant, PrescreenResult, Song, Study, StudyLocale, Term
from tests.factories import ParticipantFactory
from tests.rating.factories import Answer, RatedSession, rated_sessions_create

CLIP_SECONDS = 30.0
MODEL = MoodModel(seed=7, dropout_probability=0.0)


def rater(kind: RaterKind, rng: np.random.Generator, model: MoodModel = MODEL) -> RaterProfile:
    """A profile of the given kind, drawn through the model's own rules."""
    shares = {
        "straight_liner_share": float(kind is RaterKind.STRAIGHT_LINER),
        "random_share": float(kind is RaterKind.RANDOM),
        "too_fast_share": float(kind is RaterKind.TOO_FAST),
    }
    return dataclasses.replace(model, **shares).draw_rater(rng)


def simulate_participant(
    *,
    study: Study,
    locale: StudyLocale,
    kind: RaterKind,
    rng: np.random.Generator,
    songs: Sequence[Song],
    terms: Sequence[Term],
    repeats: int = 5,
    played_fraction: float = 1.0,
    status: str = Participant.Status.COMPLETED,
    failed_prescreens: Sequence[str] = (),
    model: MoodModel = MODEL,
) -> Participant:
    """One participant who rated `songs` on `terms`, then repeated `repeats` earlier trials."""
    participant = ParticipantFactory(locale=locale, study=study, status=status)
    participant.consented_at = timezone.now()
    participant.save(update_fields=["consented_at"])
    PrescreenResult.objects.bulk_create(
        PrescreenResult(participant=participant, kind=k, passed=k not in failed_prescreens)
        for k in PrescreenResult.Kind.values
    )
    profile = rater(kind, rng, model)
    glosses = [term.label_en for term in terms]
    repeated = rng.choice(len(songs), size=min(repeats, len(songs)), replace=False)
    plan = [(song, None) for song in songs] + [(songs[int(i)], int(i)) for i in repeated]
    answers = []
    for song, original in plan:
        values, seconds = model.rate_trial(profile, song.external_id, glosses, locale.code, rng)
        answers.append(
            Answer(
                song=song,
                values=values,
                repeat_of=original,
                response_seconds=seconds,
                audio_played_seconds=CLIP_SECONDS * played_fraction,
            )
        )
    rated_sessions_create(
        sessions=[RatedSession(participant=participant, terms=terms, answers=answers)]
    )
    return participant


def rating_terms(locale: StudyLocale, count: int = 7) -> list[Term]:
    return list(locale.terms.filter(is_selected=True).order_by("key")[:count])


def give_songs_a_clip(study: Study) -> list[Song]:
    Song.objects.filter(study=study).update(duration_seconds=CLIP_SECONDS)
    return list(study.songs.order_by("external_id"))
