from __future__ import annotations

import statistics

import pytest
from django.db.models import Aggregate, FloatField

from analysis.models import CellAggregate
from analysis.services.aggregation import cells_aggregate
from analysis.services.quality import exclusion_override, quality_check
from moodlab.simulation import RaterKind
from moodlab.studies.models import Participant
from rating.models import Rating
from tests.conftest import beat_task_scheduled_by
from tests.factories import UserFactory


def test_each_cell_gets_count_mean_sd_median_and_standard_error(population):
    cells = cells_aggregate(study_id=population.study.pk)

    assert cells == 30 * 7
    cell = CellAggregate.objects.filter(study=population.study).first()
    values = list(
        Rating.objects.filter(song=cell.song, term=cell.term, trial__is_repeat=False).values_list(
            "value", flat=True
        )
    )
    assert cell.n == len(values)
    assert cell.mean == pytest.approx(statistics.mean(values))
    assert cell.sd == pytest.approx(statistics.stdev(values))
    assert cell.median == pytest.approx(statistics.median(values))
    assert cell.sem == pytest.approx(statistics.stdev(values) / len(values) ** 0.5)


def test_excluded_participants_are_left_out_by_decision_or_by_status(population):
    quality_check(study_id=population.study.pk)
    careful = population.careful[0]
    exclusion_override(
        participant_id=careful.pk, override="exclude", reason="x", user=UserFactory()
    )
    Participant.objects.filter(pk=population.careful[1].pk).update(
        status=Participant.Status.EXCLUDED
    )

    cells_aggregate(study_id=population.study.pk)

    counted = Rating.objects.exclude(participant__exclusion__excluded=True).exclude(
        participant__status=Participant.Status.EXCLUDED
    )
    cell = CellAggregate.objects.filter(study=population.study).first()
    expected = counted.filter(song=cell.song, term=cell.term, trial__is_repeat=False)
    assert cell.n == expected.count()
    assert population.ids(RaterKind.RANDOM).isdisjoint(
        expected.values_list("participant", flat=True)
    )


def test_rerunning_updates_cells_in_place_and_drops_cells_left_without_counted_ratings(population):
    cells_aggregate(study_id=population.study.pk)
    first_ids = set(CellAggregate.objects.values_list("id", flat=True))
    Participant.objects.filter(study=population.study).update(status=Participant.Status.EXCLUDED)
    Participant.objects.filter(pk=population.careful[0].pk).update(
        status=Participant.Status.COMPLETED
    )
    rated_by_one = Rating.objects.filter(participant=population.careful[0])
    some_song = rated_by_one.first().song
    rated_by_one.filter(song=some_song).delete()  # a cell nobody counted rates any more

    cells_aggregate(study_id=population.study.pk)

    assert CellAggregate.objects.count() == 29 * 7
    assert set(CellAggregate.objects.values_list("id", flat=True)) <= first_ids
    assert set(CellAggregate.objects.values_list("n", flat=True)) == {1}
    assert not CellAggregate.objects.filter(sd__isnull=False).exists()


class PercentileContMedian(Aggregate):
    """PostgreSQL's continuous median (the mean of the two middle values for even n)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def test_every_cells_median_is_exactly_percentile_cont(population):
    cells_aggregate(study_id=population.study.pk)

    exact = {
        (cell["song_id"], cell["term_id"]): cell["median"]
        for cell in Rating.objects.filter(trial__is_repeat=False)
        .values("song_id", "term_id")
        .annotate(median=PercentileContMedian("value"))
        .order_by()
    }
    aggregated = {
        (song, term): median
        for song, term, median in CellAggregate.objects.values_list("song_id", "term_id", "median")
    }
    assert len(aggregated) == 30 * 7
    assert aggregated == exact
    assert any(median != int(median) for median in exact.values())  # even counts are covered


def test_aggregation_is_scheduled_with_beat_and_editable_in_the_admin(db):
    task = beat_task_scheduled_by(
        "analysis.migrations.0002_aggregation_schedule", "analysis.aggregate_studies_in_rating"
    )
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (5, "minutes")
