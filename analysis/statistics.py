"""Statistics for comparing music-mood ratings across cultures.

Pure numpy / pandas / scipy, no Django, so the analysis views, snapshot notebooks and
benchmarks all call the same code. Functions take either the raw ratings of ONE locale
(columns ``participant, song, term, value``; the caller filters by locale) or mean-rating
matrices (songs as rows, terms as columns, as made by :func:`mean_matrix`).

The pipeline answers the three questions of the reference study:
how reliable each locale's song means are (:func:`split_half_reliability`,
:func:`icc_mean_ratings`), whether a valence-arousal space is shared across locales
(:func:`mood_space`, :func:`compare_spaces`), which dictionary-equivalent terms rank songs
differently (:func:`equivalent_terms`), and how well a model agrees with people
(:func:`model_agreement`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.linalg import orthogonal_procrustes

Anchors = tuple[Sequence[str], Sequence[str]]
"""(positive terms, negative terms) that name a component and fix its sign."""

_Z_95 = float(stats.norm.ppf(0.975))
# Fewest songs a correlation is computed over: Fisher's z has standard error 1 / sqrt(n - 3).
_MIN_SONGS = 4


def mean_matrix(ratings: pd.DataFrame) -> pd.DataFrame:
    """Mean rating per song (rows) and term (columns); NaN where a song has no rating on a term."""
    _require_columns(ratings, ("song", "term", "value"))
    return ratings.groupby(["song", "term"])["value"].mean().unstack("term")


def spearman_brown(reliability: float | np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """Reliability of a measure ``factor`` times as long: the mean of ``factor`` x the raters."""
    reliability = np.asarray(reliability, dtype=float)
    return factor * reliability / (1.0 + (factor - 1.0) * reliability)


# --- reliability of song means -------------------------------------------------------------


@dataclass(frozen=True)
class SplitHalfReliability:
    """Spearman-Brown corrected split-half reliability of song means, one row per term.

    ``per_term`` is indexed by term with columns ``median``, ``quantile_025`` and
    ``quantile_975`` over the random splits (how much the figure depends on the split, not
    a sampling confidence interval), ``n_raters`` and ``n_songs``.
    """

    per_term: pd.DataFrame

    @property
    def overall(self) -> float:
        """The locale's single figure: median over terms of the per-term medians."""
        return float(self.per_term["median"].median())


def split_half_reliability(
    ratings: pd.DataFrame, *, repetitions: int = 100, seed: int = 0
) -> SplitHalfReliability:
    """How well a locale's song means would replicate with a fresh set of raters, per term.

    For each term the participants who rated it are split at random into two halves,
    ``repetitions`` times; song means of the two halves are correlated (Pearson) over the
    songs rated in both, and Spearman-Brown corrected to the full number of raters,
    ``2r / (1 + r)``. As raters differ from song to song, the halves give songs unequal
    numbers of ratings, so the figure runs slightly below :func:`icc_mean_ratings`' ``icc1k``
    (about 0.02 with 8 ratings per song and term).

    Every split of a term is computed at once: with ``H`` the repetitions x raters 0/1 matrix
    of first-half membership and ``X`` the sparse raters x songs matrix of rating sums,
    ``H @ X`` holds the first-half song sums of all splits and ``total - H @ X`` the second's.
    """
    _require_columns(ratings, ("participant", "song", "term", "value"))
    if repetitions < 1:
        raise ValueError("repetitions must be at least 1")
    rng = np.random.default_rng(seed)
    # Sorted codes make the splits depend on the seed alone, not on the order rows arrive in.
    song_codes, songs = pd.factorize(ratings["song"], sort=True)
    participants = ratings["participant"].to_numpy()
    values = ratings["value"].to_numpy(dtype=float)

    rows = {}
    for term, positions in sorted(ratings.groupby("term").indices.items()):
        rater_codes, raters = pd.factorize(participants[positions], sort=True)
        term_songs = song_codes[positions]
        corrected = _split_half_correlations(
            rater_codes, term_songs, values[positions], len(songs), repetitions, rng
        )
        rows[term] = {
            **_median_and_spread(corrected),
            "n_raters": len(raters),
            "n_songs": len(np.unique(term_songs)),
        }
    per_term = pd.DataFrame.from_dict(rows, orient="index").rename_axis("term")
    return SplitHalfReliability(per_term=per_term)


def _split_half_correlations(
    rater_codes: np.ndarray,
    song_codes: np.ndarray,
    values: np.ndarray,
    n_songs: int,
    repetitions: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Spearman-Brown corrected half-vs-half correlation of song means, one per random split."""
    n_raters = int(rater_codes.max()) + 1
    shape = (n_raters, n_songs)
    sums = sparse.csr_array((values, (rater_codes, song_codes)), shape=shape)
    counts = sparse.csr_array((np.ones_like(values), (rater_codes, song_codes)), shape=shape)

    membership = np.zeros((repetitions, n_raters))
    membership[:, : n_raters // 2] = 1.0
    in_first_half = rng.permuted(membership, axis=1)

    first_sums, first_counts = in_first_half @ sums, in_first_half @ counts
    second_sums = sums.sum(axis=0) - first_sums
    second_counts = counts.sum(axis=0) - first_counts
    in_both = (first_counts > 0) & (second_counts > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = _pearson_over_masked_rows(
            first_sums / first_counts, second_sums / second_counts, in_both
        )
    return spearman_brown(r, 2.0)


def _pearson_over_masked_rows(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of ``x`` and ``y``, using only the columns ``mask`` keeps."""
    n = mask.sum(axis=1)
    x_dev = _deviations_from_row_mean(x, mask, n)
    y_dev = _deviations_from_row_mean(y, mask, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (x_dev * y_dev).sum(axis=1) / np.sqrt((x_dev**2).sum(axis=1) * (y_dev**2).sum(axis=1))
    return np.where(n >= _MIN_SONGS, r, np.nan)


def _deviations_from_row_mean(x: np.ndarray, mask: np.ndarray, n: np.ndarray) -> np.ndarray:
    kept = np.where(mask, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        row_mean = kept.sum(axis=1, keepdims=True) / n[:, None]
    return np.where(mask, kept - row_mean, 0.0)


def _median_and_spread(samples: np.ndarray) -> dict[str, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return {"median": np.nan, "quantile_025": np.nan, "quantile_975": np.nan}
    median, low, high = np.quantile(finite, [0.5, 0.025, 0.975])
    return {"median": median, "quantile_025": low, "quantile_975": high}


def icc_mean_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Reliability of song means per term, when each song is rated by different raters.

    One-way random effects (songs are the targets; raters are not crossed with songs).
    ``icc1`` is the single-rating ICC(1) from the ANOVA mean squares, using the standard
    ``k0 = (N - sum(n_i^2) / N) / (a - 1)`` for unequal ratings per song.
    ``icc1k`` Spearman-Brown extends ICC(1) to the harmonic mean of ratings per song,
    ``k_harmonic``: the variance of an observed song mean is ``var_songs + var_error / n_i``,
    so across songs the error share averages ``1 / n_i`` and the harmonic mean is the number
    of ratings that makes ``icc1k`` the reliability of the song means as observed. With
    equal ratings per song both reduce to ICC(1) and ICC(1,k) = (MSB - MSW) / MSB.

    Returns a DataFrame indexed by term: ``icc1, icc1k, k0, k_harmonic, n_songs, n_ratings``.
    """
    _require_columns(ratings, ("song", "term", "value"))
    term_codes, terms = pd.factorize(ratings["term"], sort=True)
    song_codes, songs = pd.factorize(ratings["song"])
    cells = term_codes * len(songs) + song_codes
    shape = (len(terms), len(songs))
    values = ratings["value"].to_numpy(dtype=float)

    def per_cell(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(cells, weights=weights, minlength=shape[0] * shape[1]).reshape(shape)

    n = per_cell(None).astype(float)
    totals, squares = per_cell(values), per_cell(values**2)
    rated = n > 0
    n_songs = rated.sum(axis=1)
    n_ratings = n.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        between_songs = np.where(rated, totals**2 / n, 0.0).sum(axis=1)
        ms_between = (between_songs - totals.sum(axis=1) ** 2 / n_ratings) / (n_songs - 1)
        ms_within = (squares.sum(axis=1) - between_songs) / (n_ratings - n_songs)
        k0 = (n_ratings - (n**2).sum(axis=1) / n_ratings) / (n_songs - 1)
        icc1 = (ms_between - ms_within) / (ms_between + (k0 - 1.0) * ms_within)
        k_harmonic = n_songs / np.where(rated, 1.0 / n, 0.0).sum(axis=1)
    return pd.DataFrame(
        {
            "icc1": icc1,
            "icc1k": spearman_brown(icc1, k_harmonic),
            "k0": k0,
            "k_harmonic": k_harmonic,
            "n_songs": n_songs,
            "n_ratings": n_ratings.astype(int),
        },
        index=pd.Index(terms, name="term"),
    )


# --- the valence-arousal space ---------------------------------------------------------------


@dataclass(frozen=True)
class MoodSpace:
    """Principal components of one locale's standardised song x term mean matrix.

    Components are in order of explained variance; the two leading ones are named
    ``valence`` and ``arousal`` (in whichever order the data put them), the rest ``PC3``...
    ``loadings`` (terms x components) are term-component correlations;
    ``scores`` (songs x components) are the songs' principal component scores, centred.
    ``dropped_songs`` lacked a mean on at least one term and were left out.
    """

    explained_variance_ratio: pd.Series
    loadings: pd.DataFrame
    scores: pd.DataFrame
    dropped_songs: tuple[str, ...]


def mood_space(
    mean_matrix: pd.DataFrame, *, valence_anchors: Anchors, arousal_anchors: Anchors
) -> MoodSpace:
    """PCA of the song x term mean matrix, with its two leading components named and signed.

    Each term is z-scored (ddof=1) so that every term weighs the same whatever its spread,
    as in a correlation-matrix PCA. Songs missing any term are dropped rather than imputed:
    imputing the mean would shrink those songs toward the centre and the loadings with them.

    An anchor contrast is the mean loading of the positive anchors minus that of the
    negative anchors. PC1 and PC2 are named valence and arousal in the order that gives the
    larger sum of |valence contrast on the valence PC| and |arousal contrast on the arousal
    PC|. Weighing both anchor sets matters when one axis dominates: anchors such as happy
    and sad also differ in arousal, so on their own they can point at the arousal PC. Each
    component is then flipped so its positive anchors load positively.
    """
    complete = mean_matrix.dropna(axis="index", how="any")
    if complete.shape[0] < 3 or complete.shape[1] < 2:
        raise ValueError("need at least 3 fully rated songs and 2 terms for a mood space")
    spread = complete.std(ddof=1)
    if (spread == 0).any():
        raise ValueError(f"terms with no variance across songs: {list(spread.index[spread == 0])}")
    standardised = ((complete - complete.mean()) / spread).to_numpy()

    left, singular, right_t = np.linalg.svd(standardised, full_matrices=False)
    names = [f"PC{i + 1}" for i in range(singular.size)]
    scores = pd.DataFrame(left * singular, index=complete.index, columns=names)
    # Term-component correlations: eigenvector times the component's standard deviation.
    component_sd = singular / np.sqrt(complete.shape[0] - 1)
    loadings = pd.DataFrame(right_t.T * component_sd, index=complete.columns, columns=names)
    ratio = pd.Series(singular**2 / np.sum(singular**2), index=names)

    valence_contrast = _anchor_contrast(loadings, valence_anchors)
    arousal_contrast = _anchor_contrast(loadings, arousal_anchors)
    valence, arousal = max(
        [("PC1", "PC2"), ("PC2", "PC1")],
        key=lambda pair: abs(valence_contrast[pair[0]]) + abs(arousal_contrast[pair[1]]),
    )
    signs = pd.Series(1.0, index=names)
    signs[valence] = np.sign(valence_contrast[valence]) or 1.0
    signs[arousal] = np.sign(arousal_contrast[arousal]) or 1.0
    labels = {valence: "valence", arousal: "arousal"}
    return MoodSpace(
        explained_variance_ratio=ratio.rename(labels),
        loadings=(loadings * signs).rename(columns=labels),
        scores=(scores * signs).rename(columns=labels),
        dropped_songs=tuple(mean_matrix.index.difference(complete.index)),
    )


def _anchor_contrast(loadings: pd.DataFrame, anchors: Anchors) -> pd.Series:
    """Mean loading of the positive anchors minus that of the negative ones.

    A side without terms counts as zero: a locale may lack, say, a word for "energetic" and
    still orient arousal by its "calm"; with no anchor at all the contrast is zero and the
    component keeps the sign the decomposition gave it.
    """
    positive, negative = anchors
    unknown = set(positive).union(negative).difference(loadings.index)
    if unknown:
        raise ValueError(f"anchor terms not in the mean matrix: {sorted(unknown)}")
    contrast = pd.Series(0.0, index=loadings.columns)
    if len(positive):
        contrast += loadings.loc[list(positive)].mean()
    if len(negative):
        contrast -= loadings.loc[list(negative)].mean()
    return contrast


def tucker_congruence(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Tucker's congruence coefficient of matching columns: an uncentred cosine similarity."""
    return (x * y).sum(axis=0) / np.sqrt((x**2).sum(axis=0) * (y**2).sum(axis=0))


def procrustes_congruence(target: pd.DataFrame, other: pd.DataFrame) -> pd.Series:
    """Congruence per component after rotating ``other`` onto ``target``, on shared rows.

    The rotation (orthogonal Procrustes, reflections allowed) removes differences that are
    only a turn of the axes, so what remains is disagreement in the configuration itself.
    Returns one coefficient per column of ``target``, plus ``n_songs`` shared rows.
    """
    shared = target.index.intersection(other.index)
    rotated = rotate_onto(target, other)
    congruence = tucker_congruence(
        target.loc[shared].to_numpy(dtype=float), rotated.loc[shared].to_numpy(dtype=float)
    )
    return pd.Series([*congruence, len(shared)], index=[*target.columns, "n_songs"])


def rotate_onto(target: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Every row of ``other`` turned by the orthogonal rotation that best fits ``target``.

    The rotation is fitted on the rows both share and applied to all of ``other``'s rows, so
    songs only one locale rated still land on the target's axes; columns take ``target``'s
    names.
    """
    shared = target.index.intersection(other.index)
    if len(shared) < _MIN_SONGS:
        raise ValueError(f"only {len(shared)} shared songs; need {_MIN_SONGS}")
    rotation, _ = orthogonal_procrustes(
        other.loc[shared].to_numpy(dtype=float), target.loc[shared].to_numpy(dtype=float)
    )
    return pd.DataFrame(
        other.to_numpy(dtype=float) @ rotation, index=other.index, columns=target.columns
    )


@dataclass(frozen=True)
class SpaceComparison:
    """Procrustes congruence of every ordered pair of locales' song scores.

    ``pairs`` has one row per (``target``, ``rotated``) locale pair, ``n_songs``, and one
    congruence column per component.
    """

    pairs: pd.DataFrame

    def matrix(self, component: str) -> pd.DataFrame:
        """Locale x locale congruence on ``component``: rows are targets, columns rotated."""
        locales = list(pd.unique(self.pairs["target"]))
        table = self.pairs.pivot(index="target", columns="rotated", values=component)
        return table.reindex(index=locales, columns=locales)


def compare_spaces(scores_by_locale: Mapping[str, pd.DataFrame]) -> SpaceComparison:
    """Is the mood space the same across locales? Compare song scores on shared songs.

    Locales rate different terms, so loadings have no rows in common; the songs are the only
    shared basis. Pass each locale's ``MoodSpace.scores[["valence", "arousal"]]``. Each
    ordered pair is computed because rotating B onto A is not exactly the mirror of rotating
    A onto B; the diagonal is 1. Scores are compared as ``mood_space`` centred them, over
    each locale's own songs: the same centring when locales share all songs, as in the
    reference design.
    """
    rows = [
        {"target": target, "rotated": rotated}
        | procrustes_congruence(scores_by_locale[target], scores_by_locale[rotated]).to_dict()
        for target, rotated in product(scores_by_locale, repeat=2)
    ]
    pairs = pd.DataFrame(rows)
    return SpaceComparison(pairs=pairs.astype({"n_songs": int}))


# --- dictionary-equivalent terms -------------------------------------------------------------


_EQUIVALENT_TERM_COLUMNS = (
    "locale_a",
    "locale_b",
    "gloss",
    "term_a",
    "term_b",
    "n_songs",
    "r",
    "reliability_a",
    "reliability_b",
)


def equivalent_terms(
    mean_by_locale: Mapping[str, pd.DataFrame],
    gloss_by_locale: Mapping[str, Mapping[str, str]],
    reliability: Mapping[tuple[str, str], float],
) -> pd.DataFrame:
    """Which dictionary-equivalent terms rank songs differently across locales, worst first.

    Terms are equivalent when their English glosses match (case and surrounding spaces
    ignored). For every pair of locales and every shared gloss: Pearson ``r`` over songs
    both locales rated, its Fisher-z 95 % CI, the attenuation ceiling
    ``sqrt(reliability_a * reliability_b)`` (the highest r that measurement noise allows),
    the disattenuated r, and a one-sided Fisher-z test of whether r lies below the ceiling
    (``p_below_ceiling``; small means the terms really differ, not just their noise).
    ``divergence = ceiling - r`` ranks the rows: it stays finite when reliabilities are
    low, where the disattenuated r would blow up. A term without a gloss has no dictionary
    equivalent: it is never paired. ``disattenuated_r`` is capped at 1; ``above_ceiling``
    marks the pairs whose r exceeds the ceiling (sampling noise in r or in the reliabilities),
    where the uncapped value would claim more than perfect agreement.
    """
    rows = []
    for locale_a, locale_b in combinations(mean_by_locale, 2):
        terms_a = _terms_by_gloss(gloss_by_locale[locale_a])
        terms_b = _terms_by_gloss(gloss_by_locale[locale_b])
        for gloss in sorted(terms_a.keys() & terms_b.keys()):
            for term_a, term_b in product(terms_a[gloss], terms_b[gloss]):
                n_songs, r = _paired_pearson(
                    mean_by_locale[locale_a][term_a], mean_by_locale[locale_b][term_b]
                )
                rows.append(
                    {
                        "locale_a": locale_a,
                        "locale_b": locale_b,
                        "gloss": gloss,
                        "term_a": term_a,
                        "term_b": term_b,
                        "n_songs": n_songs,
                        "r": r,
                        "reliability_a": reliability[(locale_a, term_a)],
                        "reliability_b": reliability[(locale_b, term_b)],
                    }
                )
    # Typed columns: with no shared gloss the empty table must still take the arithmetic.
    table = pd.DataFrame(rows, columns=_EQUIVALENT_TERM_COLUMNS).astype(
        {"n_songs": int, "r": float, "reliability_a": float, "reliability_b": float}
    )
    return _add_ceiling_statistics(table).sort_values(
        "divergence", ascending=False, ignore_index=True
    )


def _terms_by_gloss(gloss_of_term: Mapping[str, str]) -> dict[str, list[str]]:
    terms: defaultdict[str, list[str]] = defaultdict(list)
    for term, gloss in gloss_of_term.items():
        if gloss.strip():  # no gloss, no equivalent
            terms[gloss.strip().casefold()].append(term)
    return terms


def _paired_pearson(a: pd.Series, b: pd.Series) -> tuple[int, float]:
    paired = pd.concat([a, b], axis=1, join="inner").dropna()
    if len(paired) < _MIN_SONGS:
        return len(paired), np.nan
    return len(paired), float(np.corrcoef(paired.to_numpy(dtype=float), rowvar=False)[0, 1])


def _add_ceiling_statistics(table: pd.DataFrame) -> pd.DataFrame:
    both_reliable = (table["reliability_a"] > 0) & (table["reliability_b"] > 0)
    ceiling = np.sqrt((table["reliability_a"] * table["reliability_b"]).where(both_reliable))
    with np.errstate(divide="ignore", invalid="ignore"):
        standard_error = 1.0 / np.sqrt(table["n_songs"] - 3)
        fisher_z = np.arctanh(table["r"])
        z_below_ceiling = (fisher_z - np.arctanh(ceiling)) / standard_error
    return table.assign(
        ci_low=np.tanh(fisher_z - _Z_95 * standard_error),
        ci_high=np.tanh(fisher_z + _Z_95 * standard_error),
        ceiling=ceiling,
        disattenuated_r=(table["r"] / ceiling).clip(upper=1.0),
        above_ceiling=(table["r"] > ceiling).fillna(False).astype(bool),
        z_below_ceiling=z_below_ceiling,
        p_below_ceiling=stats.norm.cdf(z_below_ceiling),
        divergence=ceiling - table["r"],
    )


# --- agreement of a model with people --------------------------------------------------------


@dataclass(frozen=True)
class ModelAgreement:
    """Rank agreement of model scores with one locale's human song means, one row per term.

    ``per_term`` is indexed by term with columns ``n_songs``, ``kendall_tau`` (tau-b, which
    corrects for the many ties of 1..5 means) and ``spearman_rho``.
    """

    per_term: pd.DataFrame

    @property
    def median_kendall_tau(self) -> float:
        return float(self.per_term["kendall_tau"].median())

    @property
    def median_spearman_rho(self) -> float:
        return float(self.per_term["spearman_rho"].median())


def model_agreement(predictions: pd.DataFrame, human_means: pd.DataFrame) -> ModelAgreement:
    """Kendall tau-b and Spearman rho per term between ``score`` and ``mean`` on shared songs.

    ``predictions`` has columns ``song, term, score``; ``human_means`` ``song, term, mean``
    for one locale. Songs or terms only one side has are ignored.
    """
    _require_columns(predictions, ("song", "term", "score"))
    _require_columns(human_means, ("song", "term", "mean"))
    for name, frame in (("predictions", predictions), ("human_means", human_means)):
        if frame.duplicated(["song", "term"]).any():
            raise ValueError(f"{name} has more than one row for some song and term")
    paired = predictions.merge(human_means, on=["song", "term"]).dropna(subset=["score", "mean"])
    rows = {
        term: {
            "n_songs": len(group),
            "kendall_tau": stats.kendalltau(group["score"], group["mean"]).statistic,
            "spearman_rho": stats.spearmanr(group["score"], group["mean"]).statistic,
        }
        for term, group in paired.groupby("term", sort=True)
    }
    per_term = pd.DataFrame.from_dict(
        rows, orient="index", columns=["n_songs", "kendall_tau", "spearman_rho"]
    )
    return ModelAgreement(per_term=per_term.rename_axis("term"))


def _require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"missing columns: {missing}")
