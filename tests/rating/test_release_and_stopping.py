from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.models import ExclusionDecision
from analysis.services.quality import exclusion_override, quality_check
from moodlab.studies.models import Participant
from moodlab.studies.services.participants import participants_expire_stale
from rating.models import Cell, Rating, Trial
from rating.selectors import StoppingSaving, adaptive_stopping_saving, study_progress
from rating.services import session_terms, trial_serve, trial_submit
from rating.tasks import release_abandoned_trials
from tests.conftest import beat_task_scheduled_by
from tests.factories import UserFactory
from tests.rating.factories import participant_in, rating_study_with


def _submit(participant, trial, value=3):
    return trial_submit(
        participant=participant,
        trial_id=trial.pk,
        ratings={term.pk: value for term in session_terms(participant=participant)},
        audio_played_seconds=30.0,
    )


def test_a_timed_out_participants_held_trial_goes_back_to_the_pool(small_study):
    participant = participant_in(small_study)
    held = trial_serve(participant=participant)
    cells = Cell.objects.filter(song=held.song)
    assert cells.aggregate(n=Sum("assigned"))["n"] == 7
    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    assert participants_expire_stale() == 1

    assert release_abandoned_trials() == 1

    held.refresh_from_db()
    assert held.status == Trial.Status.RELEASED
    assert cells.aggregate(n=Sum("assigned"))["n"] == 0
    assert release_abandoned_trials() == 0


def test_active_participants_keep_their_held_trials(small_study):
    participant = participant_in(small_study)
    held = trial_serve(participant=participant)
    assert release_abandoned_trials() == 0
    held.refresh_from_db()
    assert held.status == Trial.Status.HELD


def test_a_released_song_is_served_to_the_next_participant(db):
    study = rating_study_with(
        terms_per_locale=7, trials_per_participant=1, repeat_trials=0, target_ratings_per_cell=1
    )
    study.songs.exclude(pk=study.songs.first().pk).delete()
    leaver = participant_in(study)
    song = trial_serve(participant=leaver).song
    newcomer = participant_in(study)
    assert trial_serve(participant=newcomer) is None
    Participant.objects.filter(pk=leaver.pk).update(status=Participant.Status.TIMED_OUT)
    release_abandoned_trials()
    assert trial_serve(participant=newcomer).song == song


def test_the_release_task_runs_every_minute_on_beat(db):
    task = beat_task_scheduled_by(
        "rating.migrations.0003_schedule_trial_release", "rating.release_abandoned_trials"
    )
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 1, "minutes")


def test_adaptive_stopping_retires_precise_cells_and_sends_raters_elsewhere(db):
    study = rating_study_with(
        terms_per_locale=7,
        trials_per_participant=1,
        repeat_trials=0,
        target_ratings_per_cell=8,
        adaptive_stopping=True,
        adaptive_min_ratings=3,
        adaptive_max_standard_error=0.35,
    )
    steady, noisy = study.songs.all()[:2]
    study.songs.exclude(pk__in=[steady.pk, noisy.pk]).delete()
    # The two songs alternate (least rated first): the steady one always gets 4, the noisy
    # one 1 or 5, three ratings each.
    noisy_values = iter([1, 5, 1])
    for _ in range(6):
        participant = participant_in(study)
        trial = trial_serve(participant=participant)
        _submit(participant, trial, 4 if trial.song == steady else next(noisy_values))

    assert set(Cell.objects.filter(retired_at__isnull=False).values_list("song", flat=True)) == {
        steady.pk
    }
    assert {trial_serve(participant=participant_in(study)).song for _ in range(3)} == {noisy}
    (progress,) = study_progress(study=study)
    assert progress.retired_cells == 7
    assert progress.ratings_saved == 7 * (8 - 3)
    # Against the fixed design: two songs × seven terms × eight ratings.
    assert adaptive_stopping_saving(study=study) == StoppingSaving(
        retired_cells=7, ratings_saved=35, fixed_design_ratings=112
    )


def test_adaptive_stopping_waits_for_the_minimum_count(db):
    study = rating_study_with(
        terms_per_locale=7,
        trials_per_participant=1,
        repeat_trials=0,
        adaptive_stopping=True,
        adaptive_min_ratings=4,
    )
    study.songs.exclude(pk=study.songs.first().pk).delete()
    for expected_retired in (False, False, False, True):
        participant = participant_in(study)
        _submit(participant, trial_serve(participant=participant), value=2)
        assert Cell.objects.filter(retired_at__isnull=False).exists() is expected_retired


def test_without_adaptive_stopping_nothing_is_retired(db):
    study = rating_study_with(terms_per_locale=7, trials_per_participant=1, repeat_trials=0)
    study.songs.exclude(pk=study.songs.first().pk).delete()
    for _ in range(5):
        participant = participant_in(study)
        _submit(participant, trial_serve(participant=participant), value=2)
    assert not Cell.objects.filter(retired_at__isnull=False).exists()


def test_excluding_a_participant_keeps_their_ratings_and_frees_their_places(small_study):
    participant = participant_in(small_study)
    for _ in range(2):
        _submit(participant, trial_serve(participant=participant))
    held = trial_serve(participant=participant)
    admin = UserFactory()

    decision = exclusion_override(
        participant_id=participant.pk, override="exclude", reason="straight-lining", user=admin
    )

    participant.refresh_from_db()
    assert participant.status == Participant.Status.EXCLUDED
    assert participant.status_reason == "straight-lining"
    assert (decision.excluded, decision.overridden_by) == (True, admin)
    assert Rating.objects.filter(participant=participant).count() == 14
    held.refresh_from_db()
    assert held.status == Trial.Status.RELEASED
    assert Cell.objects.aggregate(a=Sum("assigned"), r=Sum("rated")) == {"a": 0, "r": 0}

    exclusion_override(
        participant_id=participant.pk, override="include", reason="checked by hand", user=admin
    )
    assert Cell.objects.aggregate(r=Sum("rated"), a=Sum("assigned")) == {"r": 14, "a": 14}


def test_a_quality_run_frees_the_places_of_whom_it_excludes_and_a_rerun_leaves_the_ledger(
    small_study,
):
    straight_liner, varied = participant_in(small_study), participant_in(small_study)
    for participant, value_of in [(straight_liner, lambda _: 3), (varied, lambda i: 1 + i % 5)]:
        for _ in range(2):
            trial = trial_serve(participant=participant)
            terms = session_terms(participant=participant)
            trial_submit(
                participant=participant,
                trial_id=trial.pk,
                ratings={term.pk: value_of(index) for index, term in enumerate(terms)},
                audio_played_seconds=30.0,
            )
    # As if each trial had taken the 3 s per term the study budgets (the server caps the
    # page's figure by the time that really passed, a few milliseconds here).
    Trial.objects.filter(status=Trial.Status.SUBMITTED).update(response_seconds=21.0)
    assert Cell.objects.aggregate(r=Sum("rated"))["r"] == 28

    quality_check(study_id=small_study.pk)

    assert ExclusionDecision.objects.get(participant=straight_liner).excluded
    assert ExclusionDecision.objects.get(participant=varied).reasons == []
    ledger = list(Cell.objects.order_by("pk").values_list("assigned", "rated", "value_sum"))
    assert Cell.objects.aggregate(r=Sum("rated"))["r"] == 14
    with CaptureQueriesContext(connection) as queries:
        quality_check(study_id=small_study.pk)
    assert not [q for q in queries.captured_queries if "UPDATE rating_cell" in q["sql"]]
    assert list(Cell.objects.order_by("pk").values_list("assigned", "rated", "value_sum")) == ledger
