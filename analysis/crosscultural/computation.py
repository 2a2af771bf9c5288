"""The whole cross-cultural analysis of one ratings frame, as plain JSON-ready data.

No Django here: the service, the management command and the benchmark hand in the frame the
selector read and get back the results dictionary that the report, the figures and the API
all show. The statistics themselves live in :mod:`analysis.statistics`; this module decides
which of them run on what, and names the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.statistics import (
    MoodSpace,
    compare_spaces,
    equivalent_terms,
    icc_mean_ratings,
    mean_matrix,
    model_agreement,
    mood_space,
    rotate_onto,
    split_half_reliability,
)

Progress = Callable[[str, int], None]
"""Called with a stage name and the percent done when a stage starts."""

LOADING_COMPONENTS = 5
"""Components whose loadings the results keep: the two named ones and a few beyond."""


MAX_SEED = 2**32 - 1
MAX_REPETITIONS = 10_000


@dataclass(frozen=True)
class Bounds:
    """The closed range a numeric parameter must lie in, and what is said when it does not."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def message(self) -> str:
        return f"Must lie between {self.low} and {self.high}."

    def field_kwargs(self) -> dict[str, Any]:
        """The bounds and their message as Django form fields and DRF fields both take them,
        so the admin form and the API refuse what the params refuse, in the same words."""
        message = self.message
        return {
            "min_value": self.low,
            "max_value": self.high,
            "error_messages": {"min_value": message, "max_value": message},
        }


# The one place the numeric bounds live: AnalysisParams enforces them, the API serializer
# and the admin form build their fields from them.
PARAM_BOUNDS: dict[str, Bounds] = {
    # A reliability of 0 would keep pure noise; 0.01 is the least that still selects.
    "reliability_threshold": Bounds(0.01, 1.0),
    "split_half_repetitions": Bounds(1, MAX_REPETITIONS),
    "seed": Bounds(0, MAX_SEED),
}


class InvalidParamsError(ValueError):
    """Analysis parameters out of their bounds; `errors` names each bad field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class AnalysisParams:
    """What a researcher may choose; the defaults suit the reference study's term lists.

    Anchors are English glosses, matched case-insensitively against each term's gloss, so
    one list names the axes in every locale.
    """

    valence_positive: tuple[str, ...] = ("happy", "joyful", "joy", "happiness", "cheerful")
    valence_negative: tuple[str, ...] = ("sad", "sadness", "sorrowful")
    arousal_positive: tuple[str, ...] = (
        "energetic",
        "upbeat",
        "exciting",
        "excitement",
        "enthusiasm",
    )
    arousal_negative: tuple[str, ...] = ("calm", "relaxing", "relaxed", "peaceful", "tranquil")
    reliability_threshold: float = 0.7
    split_half_repetitions: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        # The API, the admin form and the command all build these params, and a bad value
        # must fail here, not later inside the job.
        errors = {
            name: bounds.message
            for name, bounds in PARAM_BOUNDS.items()
            if isinstance(getattr(self, name), bool) or getattr(self, name) not in bounds
        }
        if errors:
            raise InvalidParamsError(errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisParams:
        """Params from stored or submitted JSON; unknown keys are ignored, missing ones default."""
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        for name in ANCHOR_FIELDS:
            if name in known:
                known[name] = tuple(str(gloss) for gloss in known[name])
        return cls(**known)


ANCHOR_FIELDS = ("valence_positive", "valence_negative", "arousal_positive", "arousal_negative")


def analyse(
    ratings: pd.DataFrame,
    *,
    params: AnalysisParams,
    predictions: Mapping[str, pd.DataFrame] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Reliability, mood spaces, their comparison, equivalent terms and model agreement.

    ``ratings`` has the selector's columns (participant, locale, song, term, gloss, value);
    ``predictions`` maps a prediction set's name to its ``locale, song, term, score`` rows.
    Every float in the answer is finite or None.
    """
    report = progress or (lambda stage, percent: None)
    # Per locale with plain string labels: categoricals would make every groupby below
    # span the songs and terms of all locales.
    if "label" not in ratings.columns:  # frames made by hand (benchmarks, tests)
        ratings = ratings.assign(label=ratings["term"])
    by_locale = {
        str(locale): frame.drop(columns="locale").astype(
            {"song": str, "term": str, "gloss": str, "label": str}
        )
        for locale, frame in ratings.groupby("locale", observed=True, sort=True)
    }
    if not by_locale:
        raise ValueError("there are no ratings to analyse")
    glosses: dict[str, dict[str, str]] = {
        locale: dict(frame.drop_duplicates("term")[["term", "gloss"]].itertuples(index=False))
        for locale, frame in by_locale.items()
    }
    labels: dict[str, dict[str, str]] = {
        locale: dict(frame.drop_duplicates("term")[["term", "label"]].itertuples(index=False))
        for locale, frame in by_locale.items()
    }
    means = {locale: mean_matrix(frame) for locale, frame in by_locale.items()}

    report("reliability", 10)
    reliability, split_half = _reliability(by_locale, glosses, params)

    report("mood spaces", 55)
    spaces, space_results = _mood_spaces(means, glosses, params)

    report("across locales", 65)
    across = _across_locales(spaces, space_results)

    report("equivalent terms", 75)
    reliability_of = {
        (locale, str(term)): float(value)
        for locale, table in split_half.items()
        for term, value in table["median"].items()
    }
    equivalents = equivalent_terms(means, glosses, reliability_of)
    equivalents["label_a"] = [
        labels[locale][term]
        for locale, term in zip(equivalents.locale_a, equivalents.term_a, strict=True)
    ]
    equivalents["label_b"] = [
        labels[locale][term]
        for locale, term in zip(equivalents.locale_b, equivalents.term_b, strict=True)
    ]
    _label_rows(reliability["per_term"], labels)
    for result in space_results.values():
        _label_rows(result.get("loadings", []), labels, locale=result.get("locale"))

    report("model agreement", 85)
    agreement = [
        _model_agreement(name, frame, means, glosses, split_half)
        for name, frame in (predictions or {}).items()
    ]
    for item in agreement:
        _label_rows(item["per_term"], labels)
    report("done", 100)
    return plain(
        {
            "counts": _counts(ratings, by_locale),
            "locales": list(by_locale),
            "params": params.as_dict(),
            "reliability": reliability,
            "mood_space": space_results,
            "across_locales": across,
            "equivalent_terms": equivalents.to_dict(orient="records"),
            "model_agreement": agreement,
        }
    )


def _label_rows(
    rows: list[dict[str, Any]], labels: Mapping[str, Mapping[str, str]], locale: str | None = None
) -> None:
    """Add the label participants read to rows naming a term (by key) and its locale."""
    for row in rows:
        row["label"] = labels[locale or row["locale"]].get(row["term"], row["term"])


def _counts(ratings: pd.DataFrame, by_locale: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    return {
        "ratings": len(ratings),
        "participants": int(ratings["participant"].nunique()),
        "songs": int(ratings["song"].nunique()),
        "per_locale": {
            locale: {
                "ratings": len(frame),
                "participants": int(frame["participant"].nunique()),
                "songs": int(frame["song"].nunique()),
                "terms": int(frame["term"].nunique()),
            }
            for locale, frame in by_locale.items()
        },
    }


def _reliability(
    by_locale: Mapping[str, pd.DataFrame],
    glosses: Mapping[str, Mapping[str, str]],
    params: AnalysisParams,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    per_term: list[dict[str, Any]] = []
    per_locale: list[dict[str, Any]] = []
    split_half: dict[str, pd.DataFrame] = {}
    for locale, frame in by_locale.items():
        halves = split_half_reliability(
            frame, repetitions=params.split_half_repetitions, seed=params.seed
        )
        icc = icc_mean_ratings(frame)
        split_half[locale] = halves.per_term
        table = halves.per_term.join(icc[["icc1", "icc1k", "n_ratings"]])
        flagged = ~(table["median"] >= params.reliability_threshold)
        for term, row in table.iterrows():
            per_term.append(
                {
                    "locale": locale,
                    "term": str(term),
                    "gloss": glosses[locale][str(term)],
                    "split_half": row["median"],
                    "split_half_low": row["quantile_025"],
                    "split_half_high": row["quantile_975"],
                    "icc1": row["icc1"],
                    "icc1k": row["icc1k"],
                    "n_raters": row["n_raters"],
                    "n_songs": row["n_songs"],
                    "n_ratings": row["n_ratings"],
                    "flagged": bool(flagged[term]),
                }
            )
        per_locale.append(
            {
                "locale": locale,
                "split_half": halves.overall,
                "icc1k": float(table["icc1k"].median()),
                "terms": len(table),
                "flagged_terms": int(flagged.sum()),
                "flagged": not halves.overall >= params.reliability_threshold,
            }
        )
    return (
        {"threshold": params.reliability_threshold, "per_term": per_term, "per_locale": per_locale},
        split_half,
    )


def anchor_terms(gloss_of_term: Mapping[str, str], anchor_glosses: Sequence[str]) -> list[str]:
    """The locale's terms whose English gloss is one of the anchors (case-insensitive)."""
    wanted = {gloss.strip().casefold() for gloss in anchor_glosses}
    return sorted(
        term for term, gloss in gloss_of_term.items() if gloss.strip().casefold() in wanted
    )


def _mood_spaces(
    means: Mapping[str, pd.DataFrame],
    glosses: Mapping[str, Mapping[str, str]],
    params: AnalysisParams,
) -> tuple[dict[str, MoodSpace], dict[str, Any]]:
    spaces: dict[str, MoodSpace] = {}
    results: dict[str, Any] = {}
    for locale, matrix in means.items():
        anchors = {
            name: anchor_terms(glosses[locale], getattr(params, name)) for name in ANCHOR_FIELDS
        }
        try:
            space = mood_space(
                matrix,
                valence_anchors=(anchors["valence_positive"], anchors["valence_negative"]),
                arousal_anchors=(anchors["arousal_positive"], anchors["arousal_negative"]),
            )
        except ValueError as problem:
            results[locale] = {"error": str(problem), "anchors": anchors}
            continue
        spaces[locale] = space
        components = list(space.explained_variance_ratio.index[:LOADING_COMPONENTS])
        loadings = space.loadings[components]
        results[locale] = {
            "locale": locale,
            "explained_variance": space.explained_variance_ratio.to_dict(),
            "leading": components[0],
            "loadings": [
                {"term": str(term), "gloss": glosses[locale][str(term)], **row.to_dict()}
                for term, row in loadings.iterrows()
            ],
            "anchors": anchors,
            "oriented": {
                axis: bool(anchors[f"{axis}_positive"] or anchors[f"{axis}_negative"])
                for axis in ("valence", "arousal")
            },
            "n_songs": len(space.scores),
            "dropped_songs": len(space.dropped_songs),
        }
    return spaces, results


def _across_locales(
    spaces: Mapping[str, MoodSpace], space_results: Mapping[str, Any]
) -> dict[str, Any]:
    """Congruence matrices, and every locale's songs turned onto one reference locale's axes.

    The reference is the locale with the most anchor terms, whose axis names are best
    founded; a locale missing an anchor then borrows its orientation from the songs.
    """
    axes = ["valence", "arousal"]
    scores = {locale: space.scores[axes] for locale, space in spaces.items()}
    shared = _shared_songs(scores)
    if len(scores) < 2 or len(shared) < 4:
        return {
            "note": "needs two locales with a mood space and at least 4 songs rated in all",
            "n_shared_songs": len(shared),
            "song_scores": _song_scores(scores, scores),
        }
    reference = max(
        scores, key=lambda locale: sum(map(len, space_results[locale]["anchors"].values()))
    )
    comparison = compare_spaces({locale: frame.loc[shared] for locale, frame in scores.items()})
    shared_axes = {
        locale: rotate_onto(scores[reference].loc[shared], frame)
        for locale, frame in scores.items()
    }
    return {
        "reference_locale": reference,
        "n_shared_songs": len(shared),
        "locales": list(scores),
        "congruence": {axis: comparison.matrix(axis).to_numpy().tolist() for axis in axes},
        "song_scores": _song_scores(scores, shared_axes),
    }


def _shared_songs(scores: Mapping[str, pd.DataFrame]) -> pd.Index:
    frames = list(scores.values())
    shared = frames[0].index if frames else pd.Index([])
    for frame in frames[1:]:
        shared = shared.intersection(frame.index)
    return shared.sort_values()


def _song_scores(
    own: Mapping[str, pd.DataFrame], shared_axes: Mapping[str, pd.DataFrame]
) -> dict[str, Any]:
    """Per locale, column lists (compact in JSON): songs, own-axis and shared-axis scores."""
    return {
        locale: {
            "songs": [str(song) for song in frame.index],
            "valence": frame["valence"].tolist(),
            "arousal": frame["arousal"].tolist(),
            "shared_valence": shared_axes[locale]["valence"].tolist(),
            "shared_arousal": shared_axes[locale]["arousal"].tolist(),
        }
        for locale, frame in own.items()
    }


def _model_agreement(
    name: str,
    predictions: pd.DataFrame,
    means: Mapping[str, pd.DataFrame],
    glosses: Mapping[str, Mapping[str, str]],
    split_half: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    per_term: list[dict[str, Any]] = []
    per_locale: list[dict[str, Any]] = []
    for key, frame in predictions.groupby("locale", sort=True):
        locale = str(key)
        if locale not in means:
            continue
        human = means[locale].stack().rename("mean").reset_index()
        agreement = model_agreement(frame[["song", "term", "score"]], human).per_term
        ceiling = split_half[locale]["median"]
        for term, row in agreement.iterrows():
            per_term.append(
                {
                    "locale": locale,
                    "term": str(term),
                    "gloss": glosses[locale].get(str(term), ""),
                    **row.to_dict(),
                    "human_split_half": ceiling.get(term, np.nan),
                }
            )
        per_locale.append(
            {
                "locale": locale,
                "terms": len(agreement),
                "median_kendall_tau": agreement["kendall_tau"].median(),
                "median_spearman_rho": agreement["spearman_rho"].median(),
                "median_human_split_half": ceiling.reindex(agreement.index).median(),
            }
        )
    return {"prediction_set": name, "per_term": per_term, "per_locale": per_locale}


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
