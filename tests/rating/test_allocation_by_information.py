"""Allocation by information: the widest standard errors first, never over the target."""

from __future__ import annotations

from moodlab.studies.models import Allocation
from rating.models import Cell
from rating.services import session_terms, trial_serve, trial_submit
from tests.rating.factories import participant_in, rating_study_with


def _study_rated_twice_per_song(allocation: str, target: int):
    """Three songs, each rated twice on all seven terms (balanced allocation): agreeing
    (4, 4), split (1, 5) and agreeing (3, 3); then the study takes `allocation`. Returns
    the study and the split song."""
    study = rating_study_with(
        terms_per_locale=7,
        trials_per_participant=1,
        repeat_trials=0,
        target_ratings_per_cell=target,
    )
    steady, split, middling = study.songs.order_by("pk")[:3]
    study.songs.exclude(pk__in=[steady.pk, split.pk, middling.pk]).delete()
    split_values = iter([1, 5])
    for _ in range(6):
        participant = participant_in(study)
        trial = trial_serve(participant=participant)
        value = {steady: 4, middling: 3}.get(trial.song) or next(split_values)
        trial_submit(
            participant=participant,
            trial_id=trial.pk,
            ratings={term.pk: value for term in session_terms(participant=participant)},
            audio_played_seconds=30.0,
        )
    assert set(Cell.objects.values_list("rated", flat=True)) == {2}
    study.allocation = allocation
    study.save(update_fields=["allocation"])
    return study, split


def test_allocation_by_information_serves_the_widest_cells_until_their_target(db):
    study, split = _study_rated_twice_per_song(Allocation.INFORMATION, target=4)

    served = [trial_serve(participant=participant_in(study)).song for _ in range(3)]

    # Two more places fill the split song's cells to the target; then the others get theirs.
    assert served[:2] == [split, split]
    assert served[2] != split
    assert max(Cell.objects.values_list("assigned", flat=True)) == 4


def test_balanced_allocation_serves_the_least_rated_songs_whatever_their_spread(db):
    study, _split = _study_rated_twice_per_song(Allocation.BALANCED, target=4)

    served = [trial_serve(participant=participant_in(study)).song for _ in range(3)]

    assert len(set(served)) == 3
