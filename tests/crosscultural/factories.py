"""Simulated rating data of known structure, written through the rating tests' bulk path."""

from __future__ import annotations

import numpy as np
from django.utils import timezone

from moodlab.simulation import MoodModel
from moodlab.studies.models import Participant, Study
from tests.rating.factories import Answer, RatedSession, rated_sessions_create


def simulate_ratings(
    study: Study,
    *,
    model: MoodModel,
    raters_per_locale: int = 24,
    terms_per_rater: int = 7,
    seed: int = 0,
    status: str = Participant.Status.COMPLETED,
) -> list[Participant]:
    """Careful raters who each rate every song on their own draw of the locale's terms.

    Values are the model's expected rating plus the rater's leniency and noise, rounded and
    clipped to 1..5 (MoodModel's careful rater), so each song x term cell gets about
    ``raters_per_locale * terms_per_rater / 20`` ratings. Written in bulk as the rating
    services would leave them (tests.rating.factories), cell ledger included.
    """
    rng = np.random.default_rng(seed)
    songs = list(study.songs.order_by("external_id"))
    participants = []
    for locale in study.locales.order_by("code"):
        terms = list(locale.terms.filter(is_selected=True).order_by("key"))
        expected = np.array(
            [[model.expected(s.external_id, t.label_en, locale.code) for t in terms] for s in songs]
        )
        created = Participant.objects.bulk_create(
            Participant(
                study=study,
                locale=locale,
                phase=Participant.Phase.RATING,
                status=status,
                consented_at=timezone.now(),
            )
            for _ in range(raters_per_locale)
        )
        sessions = []
        for participant in created:
            chosen = rng.choice(len(terms), size=terms_per_rater, replace=False)
            leniency = rng.normal(0.0, model.leniency_sd)
            noise = rng.normal(0.0, model.noise_sd, size=(len(songs), terms_per_rater))
            values = np.clip(np.rint(expected[:, chosen] + leniency + noise), 1, 5).astype(int)
            answers = [
                Answer(song=song, values=[int(value) for value in values[song_index]])
                for song_index, song in enumerate(songs)
            ]
            session_terms = [terms[int(index)] for index in chosen]
            sessions.append(
                RatedSession(participant=participant, terms=session_terms, answers=answers)
            )
        rated_sessions_create(sessions=sessions)
        participants.extend(created)
    return participants


def predictions_csv(
    study: Study, *, model: MoodModel | None = None, seed: int = 0, locales: tuple[str, ...] = ()
) -> str:
    """A prediction file for every song x selected term: the model's expected ratings, or
    (``model=None``) pure noise."""
    rng = np.random.default_rng(seed)
    lines = ["song,locale,term,score"]
    songs = list(study.songs.order_by("external_id").values_list("external_id", flat=True))
    for locale in study.locales.order_by("code"):
        if locales and locale.code not in locales:
            continue
        for term in locale.terms.filter(is_selected=True).order_by("key"):
            for song in songs:
                score = (
                    model.expected(song, term.label_en, locale.code)
                    if model
                    else float(rng.normal())
                )
                lines.append(f"{song},{locale.code},{term.key},{score:.6f}")
    return "\n".join(lines) + "\n"
