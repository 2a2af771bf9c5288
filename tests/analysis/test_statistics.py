from collections.abc import Mapping
from fractions import Fraction

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats
from sklearn.decomposition import PCA

from analysis.statistics import (
    compare_spaces,
    equivalent_terms,
    icc_mean_ratings,
    mean_matrix,
    model_agreement,
    mood_space,
    procrustes_congruence,
    rotate_onto,
    spearman_brown,
    split_half_reliability,
    tucker_congruence,
)

# (valence, arousal) loading of each simulated term.
LOADINGS: Mapping[str, tuple[float, float]] = {
    "happy": (0.9, 0.2),
    "joyful": (0.8, 0.35),
    "sad": (-0.9, -0.2),
    "melancholic": (-0.8, -0.35),
    "energetic": (0.15, 0.9),
    "upbeat": (0.4, 0.8),
    "calm": (0.1, -0.9),
    "relaxed": (0.3, -0.8),
    "intense": (-0.3, 0.8),
    "peaceful": (0.2, -0.85),
}
VALENCE_ANCHORS = (["happy", "joyful"], ["sad", "melancholic"])
AROUSAL_ANCHORS = (["energetic", "upbeat"], ["calm", "relaxed"])


def song_coordinates(n_songs: int, *, valence_sd: float, arousal_sd: float, seed: int = 0):
    """Each song's true (valence, arousal), indexed by song name."""
    rng = np.random.default_rng(seed)
    coordinates = rng.normal(0.0, [valence_sd, arousal_sd], size=(n_songs, 2))
    return pd.DataFrame(
        coordinates, index=[f"song-{i}" for i in range(n_songs)], columns=["valence", "arousal"]
    )


def simulate_ratings(
    songs: pd.DataFrame,
    loadings: Mapping[str, tuple[float, float]] = LOADINGS,
    *,
    raters_per_cell: int = 8,
    raters_per_term: int = 60,
    noise_sd: float = 0.8,
    seed: int = 0,
) -> pd.DataFrame:
    """Raw ratings: each song x term cell rated by distinct raters from that term's pool.

    A rating is the song's position projected on the term's loading, shifted to the middle
    of the scale, plus the rater's leniency and Gaussian noise, rounded and clipped to 1..5.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for term, loading in loadings.items():
        expected = 3.0 + songs.to_numpy() @ np.asarray(loading)
        raters = rng.random((len(songs), raters_per_term)).argsort(axis=1)[:, :raters_per_cell]
        leniency = rng.normal(0.0, 0.3, raters_per_term)
        noisy = expected[:, None] + leniency[raters] + rng.normal(0.0, noise_sd, raters.shape)
        frames.append(
            pd.DataFrame(
                {
                    "participant": [f"{term}-rater-{r}" for r in raters.ravel()],
                    "song": np.repeat(songs.index, raters_per_cell),
                    "term": term,
                    "value": np.clip(np.rint(noisy), 1, 5).astype(int).ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def ratings_frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["participant", "song", "term", "value"])


@pytest.fixture(scope="module")
def songs() -> pd.DataFrame:
    return song_coordinates(400, valence_sd=1.0, arousal_sd=0.8)


@pytest.fixture(scope="module")
def ratings(songs: pd.DataFrame) -> pd.DataFrame:
    return simulate_ratings(songs)


# --- mean matrix -----------------------------------------------------------------------------


def test_the_mean_matrix_has_songs_as_rows_terms_as_columns_and_nan_where_unrated():
    ratings = ratings_frame(
        [
            ("p1", "s1", "happy", 1),
            ("p2", "s1", "happy", 4),
            ("p1", "s2", "happy", 5),
            ("p1", "s1", "sad", 2),
        ]
    )

    means = mean_matrix(ratings)

    assert means.loc["s1", "happy"] == 2.5
    assert means.loc["s2", "happy"] == 5
    assert means.loc["s1", "sad"] == 2
    assert np.isnan(means.loc["s2", "sad"])


# --- split-half reliability ------------------------------------------------------------------


def test_with_two_raters_split_half_reliability_is_their_spearman_brown_corrected_correlation():
    # Two raters always land in opposite halves, so every split gives the same figure: the
    # correlation of their song means over songs both rated (s5 only by one of them).
    first = {"s1": [1, 3], "s2": [2], "s3": [4], "s4": [5], "s5": [3]}
    second = {"s1": [1], "s2": [3], "s3": [3], "s4": [5]}
    rows = [("a", song, "sad", v) for song, values in first.items() for v in values]
    rows += [("b", song, "sad", v) for song, values in second.items() for v in values]
    r = stats.pearsonr([2, 2, 4, 5], [1, 3, 3, 5]).statistic

    reliability = split_half_reliability(ratings_frame(rows), repetitions=5).per_term

    assert reliability.loc["sad", "median"] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert reliability.loc["sad", "quantile_025"] == reliability.loc["sad", "quantile_975"]
    assert reliability.loc["sad", "n_raters"] == 2
    assert reliability.loc["sad", "n_songs"] == 5


def test_raters_who_agree_perfectly_give_a_split_half_reliability_of_one(songs):
    noiseless = simulate_ratings(songs, {"happy": (1.0, 0.0)}, noise_sd=0.0)
    noiseless["value"] = noiseless["song"].map(noiseless.groupby("song")["value"].first())

    reliability = split_half_reliability(noiseless, repetitions=20)

    assert reliability.per_term.loc["happy", "median"] == pytest.approx(1.0)


def test_ratings_unrelated_to_the_songs_give_a_split_half_reliability_near_zero(ratings):
    shuffled = ratings.assign(value=np.random.default_rng(1).permutation(ratings["value"]))

    reliability = split_half_reliability(shuffled, repetitions=50)

    assert abs(reliability.overall) < 0.1


def test_split_half_reliability_rises_with_the_number_of_raters_as_spearman_brown_predicts(songs):
    few, many = (
        split_half_reliability(
            simulate_ratings(songs, raters_per_cell=raters, noise_sd=1.5, seed=raters)
        ).per_term["median"]
        for raters in (4, 8)
    )

    assert (many > few).all()
    predicted = spearman_brown(few, 2.0)
    assert np.median(many - predicted) == pytest.approx(0.0, abs=0.03)


def test_split_half_reliability_is_reproducible_with_the_same_seed(ratings):
    first = split_half_reliability(ratings, repetitions=10, seed=3).per_term
    # The database returns rows in no fixed order: the figure must not depend on it.
    shuffled = ratings.sample(frac=1.0, random_state=11).reset_index(drop=True)
    again = split_half_reliability(shuffled, repetitions=10, seed=3).per_term

    pd.testing.assert_frame_equal(first, again)


def test_split_half_reliability_reports_counts_per_term_and_a_median_over_terms(ratings):
    reliability = split_half_reliability(ratings, repetitions=10)

    assert list(reliability.per_term.index) == sorted(LOADINGS)
    assert (reliability.per_term["n_raters"] == 60).all()
    assert (reliability.per_term["n_songs"] == 400).all()
    assert reliability.overall == reliability.per_term["median"].median()


# --- ICC -------------------------------------------------------------------------------------


def test_icc_matches_pingouin_one_way_icc_when_every_song_has_the_same_number_of_ratings():
    rng = np.random.default_rng(5)
    song_effect = rng.normal(3, 1, 12)
    long = pd.DataFrame(
        [
            (f"r{rater}", f"s{song}", "happy", int(np.clip(round(effect + rng.normal()), 1, 5)))
            for song, effect in enumerate(song_effect)
            for rater in range(4)
        ],
        columns=["participant", "song", "term", "value"],
    )
    reference = pingouin.intraclass_corr(
        long, targets="song", raters="participant", ratings="value"
    ).set_index("Type")["ICC"]

    icc = icc_mean_ratings(long).loc["happy"]

    assert icc["icc1"] == pytest.approx(reference["ICC(1,1)"], abs=1e-6)
    assert icc["icc1k"] == pytest.approx(reference["ICC(1,k)"], abs=1e-6)
    assert icc["k0"] == icc["k_harmonic"] == 4


def test_icc_with_unequal_ratings_per_song_matches_a_hand_computation():
    songs = {"a": [1, 3], "b": [4, 5, 3], "c": [2, 2, 3, 1]}
    rows = [(f"r{i}", song, "sad", v) for song, vs in songs.items() for i, v in enumerate(vs)]
    # Song means 2, 4, 2; grand mean 24/9. N = 9 ratings, a = 3 songs.
    # SSB = 2(2-8/3)^2 + 3(4-8/3)^2 + 4(2-8/3)^2 = 8, MSB = 8/2 = 4.
    # SSW = 2 + 2 + 2 = 6, MSW = 6/(9-3) = 1.
    # k0 = (9 - (4+9+16)/9) / 2 = 26/9; ICC(1) = (4-1) / (4 + (26/9-1)*1) = 27/53.
    # k_harmonic = 3 / (1/2 + 1/3 + 1/4) = 36/13; ICC(1,k) = k ICC / (1 + (k-1) ICC) = 486/655.
    icc = icc_mean_ratings(ratings_frame(rows)).loc["sad"]

    assert icc["icc1"] == pytest.approx(float(Fraction(27, 53)), abs=1e-12)
    assert icc["k0"] == pytest.approx(float(Fraction(26, 9)), abs=1e-12)
    assert icc["k_harmonic"] == pytest.approx(float(Fraction(36, 13)), abs=1e-12)
    assert icc["icc1k"] == pytest.approx(float(Fraction(486, 655)), abs=1e-12)
    assert (icc["n_songs"], icc["n_ratings"]) == (3, 9)


def test_icc_and_split_half_estimate_nearly_the_same_reliability_of_song_means(ratings):
    icc = icc_mean_ratings(ratings)["icc1k"]
    split_half = split_half_reliability(ratings).per_term["median"]

    assert (icc - split_half).abs().max() < 0.03


# --- mood space ------------------------------------------------------------------------------


def aligned_signs(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` with each column flipped to point the same way as ``reference``."""
    return values * np.sign((values * reference).sum(axis=0))


def test_mood_space_matches_sklearn_pca_of_the_z_scored_matrix(ratings):
    means = mean_matrix(ratings)
    standardised = (means - means.mean()) / means.std(ddof=1)
    reference = PCA().fit(standardised)

    space = mood_space(means, valence_anchors=VALENCE_ANCHORS, arousal_anchors=AROUSAL_ANCHORS)

    np.testing.assert_allclose(
        space.explained_variance_ratio, reference.explained_variance_ratio_, atol=1e-6
    )
    reference_loadings = reference.components_.T * np.sqrt(reference.explained_variance_)
    np.testing.assert_allclose(
        aligned_signs(space.loadings.to_numpy(), reference_loadings), reference_loadings, atol=1e-6
    )
    reference_scores = reference.transform(standardised)
    np.testing.assert_allclose(
        aligned_signs(space.scores.to_numpy(), reference_scores), reference_scores, atol=1e-6
    )


def test_mood_space_loadings_are_correlations_of_terms_with_song_scores(ratings):
    means = mean_matrix(ratings)

    space = mood_space(means, valence_anchors=VALENCE_ANCHORS, arousal_anchors=AROUSAL_ANCHORS)

    for term in ("happy", "calm"):
        for component in ("valence", "arousal"):
            r = np.corrcoef(means[term], space.scores[component])[0, 1]
            assert space.loadings.loc[term, component] == pytest.approx(r, abs=1e-9)


@pytest.mark.parametrize(
    ("valence_sd", "arousal_sd", "leading"),
    [(1.3, 0.6, "valence"), (0.6, 1.2, "arousal")],
)
def test_mood_space_recovers_two_dimensions_and_names_them_by_the_anchors(
    valence_sd, arousal_sd, leading
):
    truth = song_coordinates(400, valence_sd=valence_sd, arousal_sd=arousal_sd)
    means = mean_matrix(simulate_ratings(truth))

    space = mood_space(means, valence_anchors=VALENCE_ANCHORS, arousal_anchors=AROUSAL_ANCHORS)

    assert space.explained_variance_ratio.index[0] == leading
    assert space.explained_variance_ratio[["valence", "arousal"]].sum() > 0.85
    truth = truth.loc[space.scores.index]
    for dimension in ("valence", "arousal"):
        assert np.corrcoef(space.scores[dimension], truth[dimension])[0, 1] > 0.9
    assert space.loadings.loc["happy", "valence"] > 0 > space.loadings.loc["sad", "valence"]
    assert space.loadings.loc["energetic", "arousal"] > 0 > space.loadings.loc["calm", "arousal"]


def test_mood_space_leaves_out_songs_missing_a_term_and_says_which(ratings):
    means = mean_matrix(ratings)
    means.loc["song-7", "sad"] = np.nan

    space = mood_space(means, valence_anchors=VALENCE_ANCHORS, arousal_anchors=AROUSAL_ANCHORS)

    assert space.dropped_songs == ("song-7",)
    assert "song-7" not in space.scores.index
    assert len(space.scores) == 399


def test_mood_space_orients_an_axis_by_one_side_of_its_anchors_when_the_other_is_missing():
    truth = song_coordinates(400, valence_sd=1.3, arousal_sd=0.6)
    means = mean_matrix(simulate_ratings(truth))

    space = mood_space(means, valence_anchors=([], ["sad"]), arousal_anchors=(["energetic"], []))

    assert space.scores.notna().all().all()
    assert space.loadings.loc["sad", "valence"] < 0
    assert space.loadings.loc["energetic", "arousal"] > 0


def test_mood_space_without_any_anchor_for_an_axis_still_names_both_components(ratings):
    space = mood_space(
        mean_matrix(ratings), valence_anchors=VALENCE_ANCHORS, arousal_anchors=([], [])
    )

    assert {"valence", "arousal"} <= set(space.scores.columns)
    assert space.scores.notna().all().all()
    assert space.loadings.loc["happy", "valence"] > 0


def test_mood_space_refuses_anchor_terms_the_locale_did_not_rate(ratings):
    with pytest.raises(ValueError, match="tristesse"):
        mood_space(
            mean_matrix(ratings),
            valence_anchors=(["happy"], ["tristesse"]),
            arousal_anchors=AROUSAL_ANCHORS,
        )


# --- comparing spaces ------------------------------------------------------------------------


def test_rotate_onto_undoes_a_rotation_and_applies_it_to_songs_the_target_lacks():
    rng = np.random.default_rng(3)
    target = pd.DataFrame(rng.normal(size=(30, 2)), columns=["valence", "arousal"])
    angle = 0.7
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    other = pd.DataFrame(target.to_numpy() @ turn, columns=["a", "b"])
    extra = pd.DataFrame([[1.0, 2.0]], index=[99], columns=["a", "b"])

    rotated = rotate_onto(target.iloc[:20], pd.concat([other, extra]))

    assert list(rotated.columns) == ["valence", "arousal"]
    np.testing.assert_allclose(rotated.loc[target.index], target.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(rotated.loc[99], np.array([1.0, 2.0]) @ turn.T, atol=1e-9)


def test_tucker_congruence_is_the_uncentred_cosine_of_two_columns():
    assert float(tucker_congruence(np.array([1.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0]))) == 0.5


def test_procrustes_congruence_ignores_a_rotation_with_reflection_and_song_order():
    target = song_coordinates(50, valence_sd=1.0, arousal_sd=0.5)
    angle = np.deg2rad(40)
    turn_and_mirror = np.array([[np.cos(angle), np.sin(angle)], [np.sin(angle), -np.cos(angle)]])
    other = pd.DataFrame(target.to_numpy() @ turn_and_mirror, index=target.index)
    extra = pd.DataFrame([[9.0, 9.0]], index=["only-in-other"])
    other = pd.concat([other, extra]).sample(frac=1.0, random_state=0)

    congruence = procrustes_congruence(target, other)

    np.testing.assert_allclose(congruence[["valence", "arousal"]], 1.0, atol=1e-12)
    assert congruence["n_songs"] == 50


def test_compare_spaces_finds_a_shared_space_and_not_one_with_songs_scrambled(songs):
    def scores(seed: int) -> pd.DataFrame:
        space = mood_space(
            mean_matrix(simulate_ratings(songs, seed=seed)),
            valence_anchors=VALENCE_ANCHORS,
            arousal_anchors=AROUSAL_ANCHORS,
        )
        return space.scores[["valence", "arousal"]]

    english, french = scores(1), scores(2)
    scrambled = french.set_axis(np.random.default_rng(0).permutation(french.index))

    comparison = compare_spaces({"en": english, "fr": french, "scrambled": scrambled})

    for component in ("valence", "arousal"):
        matrix = comparison.matrix(component)
        assert list(matrix.index) == list(matrix.columns) == ["en", "fr", "scrambled"]
        np.testing.assert_allclose(np.diag(matrix), 1.0)
        assert matrix.loc["en", "fr"] > 0.95
        assert matrix.loc["fr", "en"] > 0.95
        assert abs(matrix.loc["en", "scrambled"]) < 0.3
    assert (comparison.pairs["n_songs"] == 400).all()


# --- equivalent terms ------------------------------------------------------------------------

KOREAN = {"happy": "기쁜", "sad": "슬픈", "calm": "잔잔한", "energetic": "신나는"}


def test_a_term_that_means_something_else_in_one_locale_is_the_most_divergent(songs):
    english_loadings = {term: LOADINGS[term] for term in KOREAN}
    # In this simulated Korean, 슬픈 follows how calm a song is, not how sad.
    korean_loadings = {KOREAN[t]: LOADINGS["calm" if t == "sad" else t] for t in KOREAN}
    raw = {
        "en": simulate_ratings(songs, english_loadings, seed=1),
        "ko": simulate_ratings(songs, korean_loadings, seed=2),
    }
    reliability = {
        (locale, term): median
        for locale, frame in raw.items()
        for term, median in split_half_reliability(frame).per_term["median"].items()
    }
    glosses = {
        "en": {term: term for term in KOREAN},
        "ko": {korean: english.capitalize() for english, korean in KOREAN.items()},
    }

    table = equivalent_terms(
        {locale: mean_matrix(frame) for locale, frame in raw.items()}, glosses, reliability
    )

    top = table.iloc[0]
    assert (top["gloss"], top["term_a"], top["term_b"]) == ("sad", "sad", "슬픈")
    assert top["p_below_ceiling"] < 1e-6
    faithful = table.iloc[1:]
    assert sorted(faithful["gloss"]) == ["calm", "energetic", "happy"]
    # Split-half reliability runs slightly low (halves get unequal ratings per song), so
    # faithful equivalents can land a little above the ceiling, never clearly below it.
    assert (faithful["disattenuated_r"] - 1).abs().max() < 0.1
    assert (faithful["p_below_ceiling"] > 0.05).all()


def test_equivalent_terms_confidence_interval_is_fishers_and_r_at_the_ceiling_is_not_below_it():
    rng = np.random.default_rng(4)
    shared = rng.normal(size=30)
    a = pd.DataFrame({"sad": shared + rng.normal(size=30)}, index=[f"s{i}" for i in range(30)])
    b = pd.DataFrame({"triste": shared + rng.normal(size=30)}, index=a.index)
    pearson = stats.pearsonr(a["sad"], b["triste"])
    low, high = pearson.confidence_interval(confidence_level=0.95)
    # Reliabilities whose geometric mean equals the observed r put r exactly at the ceiling.
    reliability = {("en", "sad"): pearson.statistic, ("fr", "triste"): pearson.statistic}

    row = equivalent_terms(
        {"en": a, "fr": b}, {"en": {"sad": "sad"}, "fr": {"triste": "sad"}}, reliability
    ).iloc[0]

    assert row["r"] == pytest.approx(pearson.statistic, abs=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-9)
    assert row["n_songs"] == 30
    assert row["disattenuated_r"] == pytest.approx(1.0)
    assert row["p_below_ceiling"] == pytest.approx(0.5)
    assert row["divergence"] == pytest.approx(0.0, abs=1e-12)


def test_equivalent_terms_of_locales_without_a_shared_gloss_is_an_empty_table():
    means = pd.DataFrame({"sad": [1.0, 2.0, 3.0, 4.0]})

    table = equivalent_terms(
        {"en": means, "fr": means.rename(columns={"sad": "triste"})},
        {"en": {"sad": "sad"}, "fr": {"triste": "melancholy"}},
        {("en", "sad"): 0.9, ("fr", "triste"): 0.9},
    )

    assert table.empty
    assert {"ceiling", "p_below_ceiling", "divergence"} <= set(table.columns)


# --- model agreement -------------------------------------------------------------------------


def test_model_agreement_gives_kendall_tau_b_and_spearman_rho_per_term_on_shared_songs():
    human = pd.DataFrame(
        [
            *[("happy", s, m) for s, m in zip("abcd", [1, 2, 3, 4], strict=True)],
            *[("sad", s, m) for s, m in zip("abcd", [1, 2, 2, 3], strict=True)],
        ],
        columns=["term", "song", "mean"],
    )
    model = pd.DataFrame(
        [
            *[("happy", s, p) for s, p in zip("abcde", [1, 3, 2, 4, 0], strict=True)],
            *[("sad", s, p) for s, p in zip("abcd", [1, 1, 2, 3], strict=True)],
        ],
        columns=["term", "song", "score"],
    )

    agreement = model_agreement(model, human)

    happy, sad = agreement.per_term.loc["happy"], agreement.per_term.loc["sad"]
    # happy: 5 concordant and 1 discordant pair of 6; squared rank differences sum to 2.
    assert happy["n_songs"] == 4
    assert happy["kendall_tau"] == pytest.approx(2 / 3)
    assert happy["spearman_rho"] == pytest.approx(1 - 6 * 2 / (4 * 15))
    # sad: 4 concordant pairs, one tied only in the model, one only in the humans:
    # tau-b = 4 / sqrt(5 * 5), where tau-a would give 4 / 6.
    assert sad["kendall_tau"] == pytest.approx(0.8)
    assert agreement.median_kendall_tau == pytest.approx((2 / 3 + 0.8) / 2)


def test_model_agreement_refuses_two_predictions_for_the_same_song_and_term():
    model = pd.DataFrame({"song": ["a", "a"], "term": ["sad", "sad"], "score": [0.1, 0.2]})
    human = pd.DataFrame({"song": ["a"], "term": ["sad"], "mean": [3.0]})

    with pytest.raises(ValueError, match="predictions"):
        model_agreement(model, human)
