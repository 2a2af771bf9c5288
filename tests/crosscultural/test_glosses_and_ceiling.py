"""Equivalent terms come only from real glosses, and r above its ceiling is never shown > 1."""

import numpy as np
import pandas as pd

from analysis.crosscultural.figures import congruence_matrix, reliability_heatmap, render
from analysis.statistics import equivalent_terms

SONGS = [f"s{i}" for i in range(30)]


def _means(*columns: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(3, 1, len(SONGS))
    return pd.DataFrame(
        {c: base + rng.normal(0, 0.3, len(SONGS)) for c in columns}, index=pd.Index(SONGS)
    )


def test_terms_without_a_gloss_are_never_paired_as_equivalents():
    means = {"ar-EG": _means("ehtifali", "hazin"), "ko-KR": _means("budeureoun", "seulpeun")}
    glosses = {
        "ar-EG": {"ehtifali": "", "hazin": "sad"},
        "ko-KR": {"budeureoun": " ", "seulpeun": "sad"},
    }
    reliability = {(loc, t): 0.9 for loc, terms in glosses.items() for t in terms}

    table = equivalent_terms(means, glosses, reliability)

    assert table[["term_a", "term_b"]].values.tolist() == [["hazin", "seulpeun"]]


def test_a_correlation_above_its_ceiling_is_capped_and_flagged():
    means = {"en-US": _means("sad"), "fr-FR": _means("triste")}
    glosses = {"en-US": {"sad": "sad"}, "fr-FR": {"triste": "sad"}}
    low_reliability = {("en-US", "sad"): 0.5, ("fr-FR", "triste"): 0.5}

    row = equivalent_terms(means, glosses, low_reliability).iloc[0]

    assert row["r"] > row["ceiling"]
    assert row["disattenuated_r"] == 1.0
    assert bool(row["above_ceiling"]) is True
    results = {
        "equivalent_terms": [{**row.to_dict(), "label_a": "حزين", "label_b": "triste"}],
        "params": {},
        "source": {},
    }
    svg = render("equivalent-terms", results).decode()
    assert "≥ 1.00*" in svg
    # The Arabic term sits between left-to-right marks: the pair reads in locale order.
    assert "\u200eحزين\u200e / \u200etriste\u200e" in svg


def test_unglossed_terms_get_their_own_heat_map_rows():
    rows = [
        {
            "locale": "ar-EG",
            "term": "a",
            "label": "احتفالي",
            "gloss": "",
            "split_half": 0.8,
            "flagged": False,
        },
        {
            "locale": "ko-KR",
            "term": "b",
            "label": "부드러운",
            "gloss": "",
            "split_half": 0.7,
            "flagged": False,
        },
        {
            "locale": "ko-KR",
            "term": "c",
            "label": "슬픈",
            "gloss": "sad",
            "split_half": 0.9,
            "flagged": False,
        },
    ]
    results = {"reliability": {"per_term": rows, "threshold": 0.7}, "locales": ["ar-EG", "ko-KR"]}

    figure = reliability_heatmap(results)

    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert len(labels) == 3
    assert any("احتفالي" in label for label in labels)
    assert any("부드러운" in label for label in labels)


def test_congruence_numbers_are_large_and_contrast_with_their_cell():
    results = {
        "across_locales": {
            "locales": ["en-US", "ko-KR"],
            "n_shared_songs": 40,
            "congruence": {
                "valence": [[1.0, 0.85], [0.85, 1.0]],
                "arousal": [[1.0, 0.97], [0.97, 1.0]],
            },
        }
    }

    figure = congruence_matrix(results)

    texts = [t for axes in figure.axes[:2] for t in axes.texts]
    assert texts and all(t.get_fontsize() >= 9 for t in texts)
    colours = {t.get_text(): t.get_color() for t in texts}
    assert colours["0.850"] == "white" and colours["1.000"] == "black"
