"""The analysis recovers the structure simulated data were built with (moodlab.simulation)."""

import numpy as np
import pandas as pd
import pytest

from analysis.crosscultural.computation import AnalysisParams, analyse
from analysis.crosscultural.models import CrossCulturalAnalysis
from analysis.crosscultural.selectors import study_ratings_frame
from analysis.crosscultural.services import analysis_create, analysis_run, prediction_set_import
from analysis.statistics import spearman_brown
from moodlab.simulation import MoodModel
from tests.conftest import build_study
from tests.crosscultural.factories import predictions_csv, simulate_ratings

# Korean 슬픈 has the gloss "Sad"; here it follows arousal instead of low valence.
KOREAN_SAD_MEANS_AROUSAL = MoodModel(seed=3, term_overrides={("ko", "sad"): (0.0, 0.9)})


@pytest.fixture
def study(db):
    study = build_study(locales=("en-US", "ko-KR", "ar-EG"))
    simulate_ratings(study, model=KOREAN_SAD_MEANS_AROUSAL, raters_per_locale=24)
    return study


def test_each_locale_has_two_dominant_components_named_valence_and_arousal(study):
    results = analyse(study_ratings_frame(study=study), params=AnalysisParams(seed=1))

    for locale in ("en-US", "ko-KR", "ar-EG"):
        explained = results["mood_space"][locale]["explained_variance"]
        assert explained["valence"] + explained["arousal"] > 0.85
        assert explained["PC3"] < 0.05
    congruence = np.array(results["across_locales"]["congruence"]["valence"])
    assert congruence.min() > 0.95


def test_the_term_simulated_to_mean_something_else_is_the_top_divergent_equivalent(study):
    results = analyse(study_ratings_frame(study=study), params=AnalysisParams(seed=1))

    top, runner_up = results["equivalent_terms"][:2]
    assert (top["gloss"], top["locale_a"], top["locale_b"]) == ("sad", "en-US", "ko-KR")
    assert top["term_b"] == "슬픈"
    assert top["p_below_ceiling"] < 0.001
    assert top["divergence"] > 0.5 > runner_up["divergence"]


@pytest.mark.parametrize(
    ("locale", "sad", "calm"),
    [("en-US", "sad", "calm"), ("ko-KR", "sorrowful", "calm"), ("ar-EG", "sadness", "calmness")],
)
def test_the_anchor_glosses_orient_valence_and_arousal_in_every_locale(study, locale, sad, calm):
    results = analyse(study_ratings_frame(study=study), params=AnalysisParams(seed=1))

    loadings = {row["gloss"].casefold(): row for row in results["mood_space"][locale]["loadings"]}
    assert loadings[sad]["valence"] < -0.5
    assert loadings[calm]["arousal"] < -0.5
    assert results["mood_space"][locale]["oriented"] == {"valence": True, "arousal": True}


def test_reliability_rises_with_the_number_of_raters_as_spearman_brown_predicts(db):
    study = build_study(locales=("en-US",), songs_per_country=2)
    noisy = MoodModel(seed=5, noise_sd=2.5, leniency_sd=0.5)
    simulate_ratings(study, model=noisy, raters_per_locale=64, terms_per_rater=7)
    ratings = study_ratings_frame(study=study)
    half_the_raters = ratings["participant"].isin(sorted(ratings["participant"].unique())[::2])
    params = AnalysisParams(split_half_repetitions=200, seed=2)

    def reliability(frame: pd.DataFrame) -> pd.Series:
        rows = analyse(frame, params=params)["reliability"]["per_term"]
        return pd.Series({row["term"]: row["split_half"] for row in rows})

    few, many = reliability(ratings[half_the_raters]), reliability(ratings)

    # Twice the raters per song: each term's reliability should follow 2r / (1 + r). Single
    # terms scatter with the songs' sampling error; across the 20 terms there is no bias.
    predicted = pd.Series(spearman_brown(few, 2.0), index=few.index)
    assert (many > few).mean() > 0.9
    assert few.median() < 0.75
    assert abs((many - predicted).median()) < 0.02
    assert (many - predicted).abs().median() < 0.05


def test_model_agreement_of_the_true_expected_values_beats_that_of_noise(study):
    prediction_set_import(
        study=study, name="truth", csv_source=predictions_csv(study, model=KOREAN_SAD_MEANS_AROUSAL)
    )
    prediction_set_import(study=study, name="noise", csv_source=predictions_csv(study, seed=9))
    run = analysis_create(study=study, params=AnalysisParams(split_half_repetitions=20))

    analysis = analysis_run(analysis_id=run.pk)

    assert analysis.status == CrossCulturalAnalysis.Status.SUCCEEDED, analysis.error
    agreement = {a["prediction_set"]: a for a in analysis.results["model_agreement"]}
    for truth, noise in zip(
        agreement["truth"]["per_locale"], agreement["noise"]["per_locale"], strict=True
    ):
        assert truth["locale"] == noise["locale"]
        assert truth["median_kendall_tau"] > 0.6
        assert abs(noise["median_kendall_tau"]) < 0.15
        assert truth["median_human_split_half"] > 0.8
    assert len(agreement["truth"]["per_term"]) == 60
