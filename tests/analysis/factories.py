"""Simulated raters with known behaviour, written straight to the rating tables.

The rating services are not needed to test the analysis jobs: trials and ratings are
bulk-created as the services would leave them, from moodlab.simulation.MoodModel, so the
quality rules have ground truth (who was careless, and how).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from django.utils import timezone

from moodlab.simulation import MoodModel, RaterKind, RaterProfile
from moodlab.studies.models import Participant, PrescreenResult, Song, Study, StudyLocale, Term
from rating.models import Rating, SessionTerm, Trial
from tests.factories import ParticipantFactory

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
    SessionTerm.objects.bulk_create(
        SessionTerm(participant=participant, term=term, position=i) for i, term in enumerate(terms)
    )
    profile = rater(kind, rng, model)
    glosses = [term.label_en for term in terms]
    plan = [(song, None) for song in songs]
    repeated = rng.choice(len(songs), size=min(repeats, len(songs)), replace=False)
    plan += [(songs[int(i)], int(i)) for i in repeated]
    trials, answers = [], []
    for position, (song, original) in enumerate(plan):
        values, seconds = model.rate_trial(profile, song.external_id, glosses, locale.code, rng)
        trials.append(
            Trial(
                participant=participant,
                locale=locale,
                song=song,
                position=position,
                is_repeat=original is not None,
                status=Trial.Status.SUBMITTED,
                submitted_at=timezone.now(),
                response_seconds=seconds,
                audio_played_seconds=CLIP_SECONDS * played_fraction,
            )
        )
        answers.append(values)
    originals = Trial.objects.bulk_create(trials[: len(songs)])
    for trial, (_song, original) in zip(trials[len(songs) :], plan[len(songs) :], strict=True):
        trial.repeat_of = originals[original]
    Trial.objects.bulk_create(trials[len(songs) :])
    Rating.objects.bulk_create(
        Rating(trial=trial, participant=participant, song=trial.song, term=term, value=value)
        for trial, values in zip(trials, answers, strict=True)
        for term, value in zip(terms, values, strict=True)
    )
    return participant


def rating_terms(locale: StudyLocale, count: int = 7) -> list[Term]:
    return list(locale.terms.filter(is_selected=True).order_by("key")[:count])


def give_songs_a_clip(study: Study) -> list[Song]:
    Song.objects.filter(study=study).update(duration_seconds=CLIP_SECONDS)
    return list(study.songs.order_by("external_id"))
