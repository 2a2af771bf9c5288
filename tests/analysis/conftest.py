from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from moodlab.simulation import RaterKind
from moodlab.studies.models import Participant, Study
from tests.analysis.factories import give_songs_a_clip, rating_terms, simulate_participant
from tests.conftest import build_study


@dataclass
class Population:
    study: Study
    careful: list[Participant]
    by_kind: dict[str, list[Participant]]

    def ids(self, key: str) -> set[int]:
        return {p.pk for p in self.by_kind[key]}


@pytest.fixture
def population(db) -> Population:
    """Ten careful raters and two of each careless kind, all rating the same cells.

    Besides the simulation's kinds: clip skippers (careful, but played 40 % of each clip),
    a prescreen failure and a timed-out session.
    """
    study = build_study(locales=("en-US",), slug="quality")
    locale = study.locales.get()
    songs = give_songs_a_clip(study)[:30]
    terms = rating_terms(locale)
    rng = np.random.default_rng(11)

    def make(kind: RaterKind, count: int, **options: object) -> list[Participant]:
        return [
            simulate_participant(
                study=study, locale=locale, kind=kind, rng=rng, songs=songs, terms=terms, **options
            )
            for _ in range(count)
        ]

    careful = make(RaterKind.CAREFUL, 10)
    by_kind = {
        RaterKind.STRAIGHT_LINER: make(RaterKind.STRAIGHT_LINER, 2),
        RaterKind.RANDOM: make(RaterKind.RANDOM, 2),
        RaterKind.TOO_FAST: make(RaterKind.TOO_FAST, 2),
        "skipper": make(RaterKind.CAREFUL, 2, played_fraction=0.4),
        "failed_prescreen": make(RaterKind.CAREFUL, 1, failed_prescreens=["headphones"]),
        "timed_out": make(RaterKind.CAREFUL, 1, status=Participant.Status.TIMED_OUT),
    }
    return Population(study=study, careful=careful, by_kind=by_kind)


@pytest.fixture
def snapshot_study(db) -> Study:
    """Three locales (Latin, Korean and Arabic script), a few raters each, one careless."""
    study = build_study(locales=("en-US", "ko-KR", "ar-EG"), slug="globalmood-mini")
    songs = give_songs_a_clip(study)[:10]
    rng = np.random.default_rng(5)
    for locale in study.locales.all():
        terms = rating_terms(locale, count=3)
        for kind in (RaterKind.CAREFUL, RaterKind.CAREFUL, RaterKind.RANDOM):
            simulate_participant(
                study=study, locale=locale, kind=kind, rng=rng, songs=songs, terms=terms, repeats=1
            )
    return study
