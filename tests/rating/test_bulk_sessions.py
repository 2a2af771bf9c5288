"""The tests' bulk path leaves the cell ledger as the rating services would."""

from __future__ import annotations

import numpy as np

from analysis.selectors import participants_counted
from moodlab.simulation import MoodModel, RaterKind
from moodlab.studies.models import Participant, Study
from rating.models import Cell, SessionTerm
from rating.services import cells_recount
from tests.analysis.factories import give_songs_a_clip, rating_terms, simulate_participant
from tests.crosscultural.factories import simulate_ratings
from tests.rating.factories import participant_in, rate_every_trial, rating_study_with


def ledger(study: Study) -> dict[tuple[int, int, int], tuple[int, int, int, int]]:
    return {
        (cell.locale_id, cell.song_id, cell.term_id): (
            cell.assigned,
            cell.rated,
            cell.value_sum,
            cell.value_square_sum,
        )
        for cell in Cell.objects.filter(locale__study=study)
    }


def recounted(study: Study) -> dict[tuple[int, int, int], tuple[int, int, int, int]]:
    cells_recount(
        locale_ids=list(study.locales.values_list("pk", flat=True)),
        counted=participants_counted(study_id=study.pk),
    )
    return ledger(study)


def test_a_study_built_by_both_factories_has_the_ledger_a_recount_gives(db):
    study = rating_study_with(
        locales=("en-US", "ko-KR"), trials_per_participant=3, target_ratings_per_cell=100
    )
    english = study.locales.get(code="en-US")
    songs = give_songs_a_clip(study)
    rng = np.random.default_rng(1)
    for kind, status in [
        (RaterKind.CAREFUL, Participant.Status.COMPLETED),
        (RaterKind.STRAIGHT_LINER, Participant.Status.TIMED_OUT),
        (RaterKind.RANDOM, Participant.Status.EXCLUDED),
    ]:
        simulate_participant(
            study=study,
            locale=english,
            kind=kind,
            rng=rng,
            songs=songs[:6],
            terms=rating_terms(english, count=4),
            repeats=2,
            status=status,
        )
    simulate_ratings(study, model=MoodModel(), raters_per_locale=3, terms_per_rater=7)
    simulate_ratings(
        study, model=MoodModel(), raters_per_locale=1, status=Participant.Status.EXCLUDED
    )
    # A session through the services after the bulk ones: the ledger they read is the same.
    rate_every_trial(participant_in(study), value=4)

    built = ledger(study)

    assert built == recounted(study)
    session_term_ids = {
        (locale, term)
        for locale, term in SessionTerm.objects.filter(participant__study=study).values_list(
            "participant__locale", "term"
        )
    }
    # A cell for every song × every term a session rates, as each session's start creates.
    assert set(built) == {
        (locale, song.pk, term) for locale, term in session_term_ids for song in songs
    }
    assert sum(rated for _, rated, _, _ in built.values()) > 0
