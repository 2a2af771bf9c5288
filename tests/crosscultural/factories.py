"""Simulated rating data of known structure, written straight into the rating tables."""

from __future__ import annotations

import numpy as np

from moodlab.simulation import MoodModel
from moodlab.studies.models import Participant, Study
from rating.models import Rating, Trial


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
    ``raters_per_locale * terms_per_rater / 20`` ratings. Bulk-created: this is test data,
    not the participant flow.
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
            Participant(study=study, locale=locale, phase="rating", status=status)
            for _ in range(raters_per_locale)
        )
        trials = Trial.objects.bulk_create(
            Trial(
                participant=participant,
                locale=locale,
                song=song,
                position=position,
                status=Trial.Status.SUBMITTED,
            )
            for participant in created
            for position, song in enumerate(songs)
        )
        ratings = []
        for index, participant in enumerate(created):
            chosen = rng.choice(len(terms), size=terms_per_rater, replace=False)
            leniency = rng.normal(0.0, model.leniency_sd)
            noise = rng.normal(0.0, model.noise_sd, size=(len(songs), terms_per_rater))
            values = np.clip(np.rint(expected[:, chosen] + leniency + noise), 1, 5).astype(int)
            for song_index, song in enumerate(songs):
                trial = trials[index * len(songs) + song_index]
                ratings.extend(
                    Rating(
                        trial=trial,
                        participant=participant,
                        song=song,
                        term=terms[term_index],
                        value=int(value),
                    )
                    for term_index, value in zip(chosen, values[song_index], strict=True)
                )
        Rating.objects.bulk_create(ratings, batch_size=5000)
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
