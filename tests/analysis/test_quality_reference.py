"""The rules' database computation gives what the earlier in-memory pandas rules gave.

The reference below is that implementation, over every rating and trial of the study
loaded into frames: the rules now group per participant in SQL (and stream trials for a
median) so memory stays flat at millions of ratings, and must judge exactly alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.models import QualityResult
from analysis.services.quality import RULES, quality_check
from moodlab.studies.models import Participant
from rating.models import Rating, Trial


def reference_frames(study_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings = pd.DataFrame(
        list(
            Rating.objects.filter(participant__study_id=study_id).values_list(
                "participant_id", "trial_id", "song_id", "term_id", "value"
            )
        ),
        columns=["participant", "trial", "song", "term", "value"],
    )
    trials = pd.DataFrame(
        [
            (
                t.pk,
                t.participant_id,
                t.repeat_of_id or 0,
                t.response_seconds,
                t.audio_played_seconds,
                t.song.clip_seconds,
            )
            for t in Trial.objects.filter(
                participant__study_id=study_id, status=Trial.Status.SUBMITTED
            ).select_related("song")
        ],
        columns=["trial", "participant", "repeat_of", "seconds", "played", "clip"],
    ).set_index("trial")
    return ratings, trials


def reference_summaries(ratings: pd.DataFrame, trials: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each rule's per-participant figures as the pandas rules computed them (defaults)."""
    repeats = trials.loc[trials["repeat_of"] > 0, "repeat_of"]
    repeated = ratings[ratings["trial"].isin(repeats.index)].assign(
        original=lambda r: r["trial"].map(repeats)
    )
    pairs = repeated.merge(
        ratings[["trial", "term", "value"]],
        left_on=["original", "term"],
        right_on=["trial", "term"],
        suffixes=("", "_original"),
    )
    pairs["diff"] = (pairs["value"] - pairs["value_original"]).abs()
    repeat = pairs.groupby("participant")["diff"].agg(pairs="size", mean_abs_diff="mean")

    straight = ratings.groupby("participant")["value"].agg(
        ratings="size", distinct_values="nunique", sd=lambda v: float(np.std(v))
    )

    timed = trials.join(ratings.groupby("trial").size().rename("terms"), how="inner").dropna(
        subset=["seconds"]
    )
    timed["per_term"] = timed["seconds"] / timed["terms"]
    fast = timed.groupby("participant")["per_term"].agg(
        trials="size", median_seconds_per_term="median"
    )

    played = trials.dropna(subset=["played", "clip"])
    short = played["played"] < played["clip"] * 0.95
    clips = short.groupby(played["participant"]).agg(trials="size", short_trials="sum")
    clips["short_share"] = clips["short_trials"] / clips["trials"]

    originals = ratings[ratings["trial"].isin(trials.index[trials["repeat_of"] == 0])]
    x = originals["value"].astype(float)
    cells = originals.groupby(["song", "term"])["value"]
    total, count = cells.transform("sum"), cells.transform("size")
    others = count > 1
    y = ((total - x) / (count - 1))[others]
    by = originals["participant"][others]
    x = x[others]
    with np.errstate(invalid="ignore"):  # a straight-liner has no spread
        correlation = pd.Series({p: np.corrcoef(x[by == p], y[by == p])[0, 1] for p in by.unique()})
    agreement = pd.DataFrame({"compared_ratings": by.value_counts(), "correlation": correlation})
    return {
        "repeat_consistency": repeat,
        "straight_lining": straight,
        "too_fast": fast,
        "clips_not_played": clips,
        "agreement": agreement,
    }


def stored(run: Any, rule: str) -> dict[int, QualityResult]:
    return {r.participant_id: r for r in QualityResult.objects.filter(run=run, rule=rule)}


@pytest.mark.parametrize(
    "rule", ["repeat_consistency", "straight_lining", "too_fast", "clips_not_played", "agreement"]
)
def test_each_rule_measures_what_the_in_memory_rules_measured(population, rule):
    run = quality_check(study_id=population.study.pk)
    expected = reference_summaries(*reference_frames(population.study.pk))[rule]

    results = stored(run, rule)

    assert set(expected.index) <= set(results)
    for participant, row in expected.iterrows():
        evidence = results[participant].evidence
        for column, value in row.items():
            if pd.isna(value):  # a straight-liner's correlation is undefined
                assert evidence[column] is None
            elif column == "correlation":
                assert evidence["correlation"] == pytest.approx(round(value, 6), abs=1e-6)
            else:
                assert evidence[column] == pytest.approx(value, rel=1e-12), (participant, column)


def test_the_planted_bad_raters_get_the_verdicts_the_in_memory_rules_gave(population):
    run = quality_check(study_id=population.study.pk)
    summaries = reference_summaries(*reference_frames(population.study.pk))
    defaults = {name: rule.defaults for name, rule in RULES.items()}
    expected_failures = {
        "repeat_consistency": summaries["repeat_consistency"]["mean_abs_diff"]
        > defaults["repeat_consistency"]["max_mean_abs_diff"],
        "straight_lining": summaries["straight_lining"]["sd"]
        < defaults["straight_lining"]["min_sd"],
        "too_fast": summaries["too_fast"]["median_seconds_per_term"]
        < defaults["too_fast"]["min_median_seconds_per_term"],
        "clips_not_played": summaries["clips_not_played"]["short_share"]
        > defaults["clips_not_played"]["max_short_trial_share"],
        "agreement": (summaries["agreement"]["compared_ratings"] >= 10)
        & (summaries["agreement"]["correlation"] < defaults["agreement"]["min_correlation"]),
    }

    for rule, fails in expected_failures.items():
        failed = {p for p, r in stored(run, rule).items() if not r.passed}
        assert failed == set(fails.index[fails]), rule
    assert failed  # the planted random raters disagree
    rating_phase = Participant.objects.filter(study=population.study, phase="rating").count()
    assert QualityResult.objects.filter(run=run).count() == len(RULES) * rating_phase
