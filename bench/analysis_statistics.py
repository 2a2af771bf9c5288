"""Time the cross-cultural statistics on a synthetic study the size of GlobalMood.

5 locales x 20 terms x 1,180 songs; in each locale 430 raters each rate 66 trials (65 songs
plus one repeat) on their 7 terms, about 8 ratings per song x term cell and about 1M
ratings in all. Ratings come from ``moodlab.simulation.MoodModel`` (a valence-arousal
model), with Korean "sad" made to follow calmness so one equivalent term diverges.

Run from the repository root:  .venv/bin/python -m bench.analysis_statistics
Prints seconds and extra traced memory per step (tracemalloc, which slows Python-level
allocation a little), the total, the process's peak resident memory and headline figures.
"""

from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Callable
from time import perf_counter
from typing import TypeVar

import numpy as np
import pandas as pd

from analysis.statistics import (
    compare_spaces,
    equivalent_terms,
    icc_mean_ratings,
    mean_matrix,
    model_agreement,
    mood_space,
    split_half_reliability,
)
from moodlab.simulation import LEXICON, MoodModel

LOCALES = ("en-US", "fr-FR", "es-MX", "ko-KR", "ar-EG")
N_SONGS = 1180
TERMS_PER_LOCALE = 20
RATERS_PER_LOCALE = 430
TERMS_PER_RATER = 7
SONGS_PER_RATER = 65
SPLIT_HALF_REPETITIONS = 100
VALENCE = (["happy", "joy"], ["sad", "melancholy"])
AROUSAL = (["energetic", "upbeat"], ["calm", "relaxed"])
ANCHOR_GLOSSES = sorted({*VALENCE[0], *VALENCE[1], *AROUSAL[0], *AROUSAL[1]})

T = TypeVar("T")


def term_name(locale: str, gloss: str) -> str:
    """Locales rate different words; the bench names each locale's word after its gloss."""
    return f"{locale[:2]}:{gloss}"


def locale_glosses(rng: np.random.Generator) -> list[str]:
    """The anchors plus a random draw from the lexicon, so locales share only some glosses."""
    others = sorted(set(LEXICON) - set(ANCHOR_GLOSSES))
    extra = rng.choice(others, TERMS_PER_LOCALE - len(ANCHOR_GLOSSES), replace=False)
    return [*ANCHOR_GLOSSES, *extra]


def simulate_locale(
    model: MoodModel, locale: str, glosses: list[str], songs: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Raw ratings of one locale: fixed terms per rater, songs served least-rated first."""
    expected = np.array([[model.expected(s, g, locale) for g in glosses] for s in songs])
    raters = np.arange(RATERS_PER_LOCALE)
    terms = rng.random((raters.size, len(glosses))).argsort(axis=1)[:, :TERMS_PER_RATER]
    # Walking one shuffled song list in turn is the balanced allocation at constant load.
    order = rng.permutation(songs.size)
    trials = order[(raters[:, None] * SONGS_PER_RATER + np.arange(SONGS_PER_RATER)) % songs.size]
    repeat = trials[raters, rng.integers(0, SONGS_PER_RATER, raters.size)]
    trials = np.column_stack([trials, repeat])

    shape = (raters.size, trials.shape[1], TERMS_PER_RATER)
    rater = np.broadcast_to(raters[:, None, None], shape)
    song = np.broadcast_to(trials[:, :, None], shape)
    term = np.broadcast_to(terms[:, None, :], shape)
    leniency = rng.normal(0.0, model.leniency_sd, raters.size)
    noisy = expected[song, term] + leniency[rater] + rng.normal(0.0, model.noise_sd, shape)
    names = np.array([term_name(locale, g) for g in glosses])
    return pd.DataFrame(
        {
            "participant": (rater.ravel() + 10_000 * LOCALES.index(locale)),
            "song": songs[song.ravel()],
            "term": names[term.ravel()],
            "value": np.clip(np.rint(noisy.ravel()), 1, 5).astype(np.int8),
        }
    )


def model_predictions(
    model: MoodModel, locale: str, glosses: list[str], songs: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """A stand-in music model: the English-language expectation plus noise, for every term."""
    rows = [
        (song, term_name(locale, gloss), model.expected(song, gloss, "en") + rng.normal(0, 0.3))
        for song in songs
        for gloss in glosses
    ]
    return pd.DataFrame(rows, columns=["song", "term", "score"])


class Stopwatch:
    """Seconds and extra traced memory of each step, summed per step name across locales."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    def run(self, step: str, function: Callable[[], T]) -> T:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        start = perf_counter()
        result = function()
        elapsed = perf_counter() - start
        peak = (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
        self.seconds[step] = self.seconds.get(step, 0.0) + elapsed
        self.peak_mb[step] = max(self.peak_mb.get(step, 0.0), peak)
        return result

    def report(self) -> None:
        print(f"\n{'step':<28}{'seconds':>10}{'extra MB':>10}")
        for step, seconds in self.seconds.items():
            print(f"{step:<28}{seconds:>10.2f}{self.peak_mb[step]:>10.1f}")
        print(f"{'total analysis':<28}{sum(self.seconds.values()):>10.2f}")


def main() -> None:
    rng = np.random.default_rng(0)
    model = MoodModel(seed=0, term_overrides={("ko", "sad"): (0.2, -0.8)})
    songs = np.array([f"song-{i:04d}" for i in range(N_SONGS)])
    glosses = {locale: locale_glosses(rng) for locale in LOCALES}

    start = perf_counter()
    raw = {
        locale: simulate_locale(model, locale, glosses[locale], songs, rng) for locale in LOCALES
    }
    predictions = {
        locale: model_predictions(model, locale, glosses[locale], songs, rng) for locale in LOCALES
    }
    n_ratings = sum(len(frame) for frame in raw.values())
    print(f"simulated {n_ratings:,} ratings in {perf_counter() - start:.1f} s")

    tracemalloc.start()
    watch = Stopwatch()
    means, reliability, icc, spaces, agreement = {}, {}, {}, {}, {}
    for locale, ratings in raw.items():
        means[locale] = watch.run("mean_matrix", lambda r=ratings: mean_matrix(r))
        reliability[locale] = watch.run(
            "split_half_reliability",
            lambda r=ratings: split_half_reliability(r, repetitions=SPLIT_HALF_REPETITIONS),
        )
        icc[locale] = watch.run("icc_mean_ratings", lambda r=ratings: icc_mean_ratings(r))
        anchors = {
            "valence_anchors": tuple([term_name(locale, g) for g in side] for side in VALENCE),
            "arousal_anchors": tuple([term_name(locale, g) for g in side] for side in AROUSAL),
        }
        spaces[locale] = watch.run(
            "mood_space", lambda m=means[locale], a=anchors: mood_space(m, **a)
        )
        human = means[locale].stack().rename("mean").reset_index()
        agreement[locale] = watch.run(
            "model_agreement", lambda p=predictions[locale], h=human: model_agreement(p, h)
        )
    comparison = watch.run(
        "compare_spaces",
        lambda: compare_spaces({k: s.scores[["valence", "arousal"]] for k, s in spaces.items()}),
    )
    rel_by_term = {
        (locale, term): value
        for locale, result in reliability.items()
        for term, value in result.per_term["median"].items()
    }
    gloss_by_locale = {
        locale: {term_name(locale, g): g for g in locale_gloss}
        for locale, locale_gloss in glosses.items()
    }
    divergent = watch.run(
        "equivalent_terms", lambda: equivalent_terms(means, gloss_by_locale, rel_by_term)
    )
    tracemalloc.stop()

    watch.report()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak resident memory (MB)':<28}{peak_rss_mb:>10.0f}")

    print("\nper locale: split-half median, ICC(1,k) median, PC1+PC2 share, median Kendall tau")
    for locale in LOCALES:
        share = spaces[locale].explained_variance_ratio[["valence", "arousal"]].sum()
        print(
            f"  {locale}  {reliability[locale].overall:.3f}  "
            f"{icc[locale]['icc1k'].median():.3f}  {share:.3f}  "
            f"{agreement[locale].median_kendall_tau:.3f}"
        )
    print("\nvalence congruence (rows: target, columns: rotated onto it)")
    print(comparison.matrix("valence").round(3).to_string())
    print("\nmost divergent equivalent terms")
    columns = ["locale_a", "locale_b", "gloss", "n_songs", "r", "ceiling", "p_below_ceiling"]
    print(divergent[columns].head(5).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
