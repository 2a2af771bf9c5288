from __future__ import annotations

import pytest
from django.utils.translation import override

from moodlab.studies.demo import demo_song_rows
from moodlab.studies.models import Term
from moodlab.studies.services.song_import import songs_import
from rating.models import Cell, SessionTerm, Trial
from rating.services import rating_session_start, session_terms, trial_serve, trial_submit
from tests.rating.factories import participant_in, rating_study_with


def _rate_everything(participant) -> list[Trial]:
    done = []
    while (trial := trial_serve(participant=participant)) is not None:
        terms = session_terms(participant=participant)
        trial_submit(
            participant=participant,
            trial_id=trial.pk,
            ratings={term.pk: 3 for term in terms},
            audio_played_seconds=30.0,
        )
        done.append(trial)
    return done


def test_a_participant_gets_the_studys_number_of_selected_terms_once(small_study):
    participant = participant_in(small_study)
    terms = rating_session_start(participant=participant)
    again = rating_session_start(participant=participant)
    assert len(terms) == 7
    assert [t.pk for t in again] == [t.pk for t in terms]
    assert all(term.is_selected for term in terms)
    assert SessionTerm.objects.filter(participant=participant).count() == 7


def test_terms_are_shown_alphabetically_in_the_participants_language(db):
    study = rating_study_with(locales=("ko-KR",), trials_per_participant=3)
    participant = participant_in(study, "ko-KR")
    terms = rating_session_start(participant=participant)
    with override("ko"):
        labels = [term.label for term in terms]
    assert labels == sorted(labels, key=str.casefold)


def test_terms_are_drawn_to_keep_them_evenly_covered(small_study):
    # 20 terms, 7 each: after 20 sessions every term is used by exactly 7 of them.
    for _ in range(20):
        rating_session_start(participant=participant_in(small_study))
    usage = {
        term.pk: SessionTerm.objects.filter(term=term).count()
        for term in Term.objects.filter(locale__study=small_study, is_selected=True)
    }
    assert set(usage.values()) == {7}


def test_unselected_terms_are_never_drawn(db):
    study = rating_study_with(terms_per_participant=4, trials_per_participant=2)
    Term.objects.filter(locale__study=study, rank__gt=5).update(is_selected=False)
    for _ in range(5):
        terms = rating_session_start(participant=participant_in(study))
        assert all(term.rank <= 5 for term in terms)


def test_a_session_has_the_regular_trials_then_the_repeats_on_earlier_songs(db):
    study = rating_study_with(trials_per_participant=6, repeat_trials=2)
    participant = participant_in(study)
    trials = _rate_everything(participant)
    regular, repeats = trials[:6], trials[6:]
    assert [t.position for t in trials] == list(range(1, 9))
    assert not any(t.is_repeat for t in regular)
    assert len({t.song_id for t in regular}) == 6
    assert len(repeats) == 2 and all(t.is_repeat for t in repeats)
    assert {t.repeat_of_id for t in repeats} <= {t.pk for t in regular}
    assert len({t.repeat_of_id for t in repeats}) == 2
    for repeat in repeats:
        assert repeat.song_id == Trial.objects.get(pk=repeat.repeat_of_id).song_id
        assert set(repeat.ratings.values_list("term_id", flat=True)) == set(
            repeat.repeat_of.ratings.values_list("term_id", flat=True)
        )


def test_serving_twice_returns_the_same_held_trial(small_study):
    participant = participant_in(small_study)
    first = trial_serve(participant=participant)
    assert trial_serve(participant=participant) == first
    assert Trial.objects.filter(participant=participant).count() == 1


def test_a_session_ends_early_when_every_song_is_full(db):
    study = rating_study_with(
        terms_per_locale=7, trials_per_participant=40, repeat_trials=1, target_ratings_per_cell=1
    )
    first = _rate_everything(participant_in(study))
    second = _rate_everything(participant_in(study))
    # 59 songs, one rating each: the first takes 40 (+1 repeat), the second the other 19.
    assert len(first) == 41
    assert len(second) == 20
    assert {t.song_id for t in first if not t.is_repeat}.isdisjoint(
        {t.song_id for t in second if not t.is_repeat}
    )
    assert trial_serve(participant=participant_in(study)) is None


@pytest.mark.parametrize("participants", [7, 13])
def test_song_counts_stay_within_one_of_each_other(db, participants):
    # Every participant rates all 4 terms, so cells and songs fill together.
    study = rating_study_with(
        terms_per_locale=4, terms_per_participant=4, trials_per_participant=10, repeat_trials=0
    )
    for _ in range(participants):
        _rate_everything(participant_in(study))
    per_song = [
        song.trials.filter(is_repeat=False, status=Trial.Status.SUBMITTED).count()
        for song in study.songs.all()
    ]
    assert max(per_song) - min(per_song) <= 1


def test_songs_imported_during_the_rating_phase_are_served_to_later_sessions(db):
    study = rating_study_with(terms_per_locale=7, trials_per_participant=5, repeat_trials=0)
    first = participant_in(study)
    trial_serve(participant=first)
    songs_import(study=study, csv_source=demo_song_rows(2))  # one more song per country
    later = participant_in(study)
    terms = session_terms(participant=later) or rating_session_start(participant=later)
    new_songs = study.songs.exclude(cells__isnull=False).count()
    assert new_songs == 0
    assert Cell.objects.filter(locale=later.locale, term__in=terms).count() == 118 * 7
