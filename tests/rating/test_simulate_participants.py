from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max, Min

from moodlab.simulation import MoodModel, world_seed_for
from moodlab.studies.models import Participant
from rating.models import Cell, Rating
from tests.rating.factories import rating_study_with

LOCALES = ("en-US", "fr-FR", "es-MX", "ko-KR", "ar-EG")


@pytest.mark.django_db(transaction=True)
def test_simulated_participants_fill_a_small_study_in_all_five_locales():
    # 3 songs × 7 terms × 2 ratings per locale: two full sessions fill a locale, and the
    # participants after them find nothing left and finish at once.
    study = rating_study_with(
        locales=LOCALES,
        terms_per_locale=7,
        trials_per_participant=3,
        repeat_trials=1,
        target_ratings_per_cell=2,
    )
    study.songs.exclude(pk__in=list(study.songs.values_list("pk", flat=True)[:3])).delete()
    out = StringIO()

    call_command(
        "simulate_participants",
        study=study.slug,
        locale="all",
        count=5,
        concurrency=6,
        seed=3,
        stdout=out,
    )

    summary = out.getvalue()
    assert "participants 25," in summary
    assert "errors 0" in summary
    cells = Cell.objects.filter(locale__study=study)
    assert cells.count() == 5 * 3 * 7
    assert cells.aggregate(low=Min("rated"), high=Max("rated")) == {"low": 2, "high": 2}
    by_locale = dict(
        Participant.objects.filter(study=study, status=Participant.Status.COMPLETED)
        .values_list("locale__code")
        .annotate(n=Count("id"))
    )
    assert set(by_locale) == set(LOCALES)
    assert Rating.objects.filter(trial__is_repeat=True).exists()


@pytest.mark.django_db(transaction=True)
def test_simulated_ratings_follow_the_mood_model():
    study = rating_study_with(
        locales=("en-US",), terms_per_locale=7, trials_per_participant=5, repeat_trials=0
    )
    call_command(
        "simulate_participants",
        study=study.slug,
        locale="en-US",
        count=12,
        concurrency=4,
        seed=5,
        stdout=StringIO(),
    )
    model = MoodModel(seed=world_seed_for(study.slug))
    pairs = np.array(
        [
            (value, model.expected(song, gloss, "en-US"))
            for value, song, gloss in Rating.objects.values_list(
                "value", "song__external_id", "term__label_en"
            )
        ]
    )
    assert len(pairs) >= 5 * 7 * 8
    assert np.corrcoef(pairs.T)[0, 1] > 0.5


def test_an_unknown_locale_is_refused(small_study):
    with pytest.raises(CommandError, match="no active locale"):
        call_command("simulate_participants", study=small_study.slug, locale="xx-XX", count=1)


def _outcomes(path) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(path.open(encoding="utf-8")))


@pytest.mark.django_db(transaction=True)
def test_each_run_draws_new_raters_unless_a_seed_replays_them(tmp_path):
    study = rating_study_with(locales=("en-US",), trials_per_participant=2, repeat_trials=0)
    runs = []
    for index, seed in enumerate((None, None, 11)):
        path = tmp_path / f"run{index}.csv"
        options = {"seed": seed} if seed is not None else {}
        call_command(
            "simulate_participants",
            study=study.slug,
            locale="en-US",
            count=2,
            outcomes=path,
            stdout=StringIO(),
            **options,
        )
        runs.append(_outcomes(path))

    seeds = [run[0]["seed"] for run in runs]
    assert seeds[0] != seeds[1]
    assert seeds[2] == "11"
    assert all(len(run) == 2 and run[0]["participant"] for run in runs)


@pytest.mark.django_db(transaction=True)
def test_a_planted_divergent_term_is_what_the_equivalence_analysis_finds():
    from analysis.crosscultural.computation import AnalysisParams
    from analysis.crosscultural.services import analysis_create, analysis_run

    study = rating_study_with(
        locales=("en-US", "ko-KR"),
        terms_per_participant=20,
        trials_per_participant=16,
        repeat_trials=0,
        target_ratings_per_cell=50,
    )
    study.songs.exclude(pk__in=list(study.songs.values_list("pk", flat=True)[:16])).delete()

    call_command(
        "simulate_participants",
        study=study.slug,
        locale="all",
        count=8,
        concurrency=4,
        seed=1,
        divergent_term=["ko-KR:sad"],
        stdout=StringIO(),
    )
    queued = analysis_create(study=study, params=AnalysisParams(split_half_repetitions=20))
    results = analysis_run(analysis_id=queued.pk).results

    most_divergent = results["equivalent_terms"][0]
    assert (most_divergent["gloss"], most_divergent["locale_b"]) == ("sad", "ko-KR")
    assert most_divergent["r"] < 0.3
    others = [row["r"] for row in results["equivalent_terms"][1:] if row["r"] is not None]
    assert others and min(others) > most_divergent["r"]


def test_a_divergent_term_must_name_a_locale_and_a_gloss(small_study):
    with pytest.raises(CommandError, match="LOCALE:GLOSS"):
        call_command(
            "simulate_participants",
            study=small_study.slug,
            locale="en-US",
            count=1,
            divergent_term=["sad"],
        )
