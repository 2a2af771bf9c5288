"""Recruitment closes when the work is done; no session completes without work; a clip
that fails in the browser is skipped, uncounted, and counted per song for the researcher."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from moodlab.studies.models import Participant, Song
from moodlab.studies.selectors import song_queryset_with_audio_failures
from moodlab.studies.services.participants import EntryRefused, participant_enter
from moodlab.studies.services.recruitment import (
    REASON_RATING_EXHAUSTED,
    REASON_RATING_TARGET,
)
from moodlab.studies.services.steps import participant_state
from rating.models import Cell, Trial
from rating.services import (
    rating_session_finish,
    session_terms,
    trial_report_audio_failure,
    trial_serve,
    trial_serve_or_wait,
    trial_submit,
)
from tests.rating.factories import participant_in, rating_study_with

pytestmark = pytest.mark.django_db


def one_song_study(**params):
    """One song, seven terms, one rating wanted per cell: one trial fills the locale."""
    defaults = {"terms_per_locale": 7, "trials_per_participant": 1, "repeat_trials": 0}
    study = rating_study_with(**{**defaults, "target_ratings_per_cell": 1, **params})
    study.songs.exclude(pk=study.songs.order_by("pk").first().pk).delete()
    return study


def rate(participant, trial):
    return trial_submit(
        participant=participant,
        trial_id=trial.pk,
        ratings={term.pk: 3 for term in session_terms(participant=participant)},
        audio_played_seconds=30.0,
    )


def enter(study, pid):
    return participant_enter(
        study=study, locale=study.locales.get(code="en-US"), recruiter_participant_id=pid
    )


def test_a_locale_at_its_target_closes_and_the_next_participant_is_told_it_is_full():
    study = one_song_study()
    rater = participant_in(study)
    rate(rater, trial_serve(participant=rater))

    with pytest.raises(EntryRefused) as refusal:
        enter(study, "late-comer")

    assert refusal.value.code == "full"
    locale = study.locales.get(code="en-US")
    assert locale.recruitment_closed_at is not None
    assert locale.recruitment_closed_reason == REASON_RATING_TARGET
    assert not Participant.objects.filter(recruiter_identity__recruiter_participant_id="late-comer")


def test_a_session_that_finds_every_song_held_waits_instead_of_completing():
    study = one_song_study()
    holder = participant_in(study)
    trial_serve(participant=holder)
    newcomer = participant_in(study)

    assert trial_serve_or_wait(participant=newcomer) == (None, True)
    newcomer.refresh_from_db()
    assert newcomer.status == Participant.Status.STARTED
    assert participant_state(newcomer).exit is None
    # Nor can it finish the phase by asking directly.
    with pytest.raises(Exception, match="still to be rated"):
        rating_session_finish(participant=newcomer)
    assert Participant.objects.get(pk=newcomer.pk).status == Participant.Status.STARTED


def test_a_session_with_no_song_left_for_its_terms_ends_as_full_with_the_no_places_return():
    study = one_song_study(terms_per_locale=8)
    study.locales.update(
        no_places_url="https://panel.example/noplaces?cc={code}", no_places_code="NP-1"
    )
    first = participant_in(study)
    rate(first, trial_serve(participant=first))
    # Seven of the eight terms' cells are full: no song fits the next session's seven terms.
    newcomer = participant_in(study)

    assert trial_serve_or_wait(participant=newcomer) == (None, False)

    newcomer.refresh_from_db()
    assert newcomer.status == Participant.Status.FULL
    state = participant_state(newcomer)
    assert state.next_step == "ended"
    assert (state.exit.kind, state.exit.code) == ("full", "NP-1")
    assert state.exit.redirect_url == "https://panel.example/noplaces?cc=NP-1"
    locale = study.locales.get(code="en-US")
    assert locale.recruitment_closed_reason == REASON_RATING_EXHAUSTED
    with pytest.raises(EntryRefused):
        enter(study, "after-exhaustion")


def test_a_clip_that_failed_is_recorded_uncounted_and_the_session_goes_on_with_another_song():
    study = rating_study_with(terms_per_locale=7, trials_per_participant=2, repeat_trials=0)
    participant = participant_in(study)
    broken = trial_serve(participant=participant)
    cells = Cell.objects.filter(song=broken.song)
    assert cells.aggregate(n=Sum("assigned"))["n"] == 7

    trial_report_audio_failure(participant=participant, trial_id=broken.pk)

    broken.refresh_from_db()
    assert broken.status == Trial.Status.NO_AUDIO
    assert cells.aggregate(n=Sum("assigned"))["n"] == 0
    following = trial_serve(participant=participant)
    assert following.song_id != broken.song_id
    rate(participant, following)
    # The failed trial is not one of the session's two: another song comes.
    assert trial_serve(participant=participant) is not None
    # A retried report answers the recorded failure.
    assert trial_report_audio_failure(participant=participant, trial_id=broken.pk) == broken
    failures = dict(
        song_queryset_with_audio_failures(Song.objects.filter(study=study)).values_list(
            "pk", "audio_failures"
        )
    )
    assert failures[broken.song_id] == 1
    assert failures[following.song_id] == 0


def test_a_session_whose_only_song_failed_ends_without_closing_the_locale():
    study = one_song_study()
    participant = participant_in(study)
    broken = trial_serve(participant=participant)
    trial_report_audio_failure(participant=participant, trial_id=broken.pk)

    assert trial_serve_or_wait(participant=participant) == (None, False)

    participant.refresh_from_db()
    assert participant.status == Participant.Status.FULL
    assert study.locales.get(code="en-US").recruitment_closed_at is None
    assert enter(study, "next-one")[1] is True
