"""The report's figures, drawn server-side from a results dictionary with matplotlib.

Each figure carries a caption with its source (snapshot or live ratings) and parameters, so
a downloaded file still says where it came from. SVG keeps text as text: the browser then
shapes Arabic and finds Korean glyphs itself; PNG uses the Noto fonts when installed.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
# Font files with the glyphs of Korean and Arabic term labels (fonts-noto-cjk, fonts-noto-core).
_SCRIPT_FONT_FILES = ("NotoSansCJK-Regular", "NotoSansArabic-Regular")


@cache
def _font_families() -> list[str]:
    """DejaVu Sans, then the script fonts this machine has; matplotlib falls back per glyph.

    The fonts are registered from their files because matplotlib's font cache may predate
    their installation; a machine without them silently draws boxes for those glyphs.
    """
    families = ["DejaVu Sans"]
    for path in font_manager.findSystemFonts():
        if Path(path).stem in _SCRIPT_FONT_FILES:
            font_manager.fontManager.addfont(path)
            families.append(font_manager.FontProperties(fname=path).get_name())
    return families


def caption(results: dict[str, Any], *, finished_at: datetime | None = None) -> str:
    """Where the numbers come from, in one line a figure can carry."""
    source = results.get("source", {})
    params = results.get("params", {})
    origin = (
        f"snapshot {source['snapshot_version']}"
        if source.get("snapshot_version")
        else "live ratings" + (f" at {finished_at:%Y-%m-%d %H:%M} UTC" if finished_at else "")
    )
    anchors = "; ".join(
        f"{name.replace('_', ' ')}: {', '.join(params.get(name, []))}"
        for name in ("valence_positive", "valence_negative", "arousal_positive", "arousal_negative")
    )
    return (
        f"Study {source.get('study', '?')}, {origin}. Reliability threshold "
        f"{params.get('reliability_threshold')}, {params.get('split_half_repetitions')} "
        f"split-half repetitions, seed {params.get('seed')}. Anchors: {anchors}."
    )


def reliability_heatmap(results: dict[str, Any]) -> Figure:
    """Split-half reliability per term (rows, by gloss) and locale; flagged cells marked."""
    rows = results["reliability"]["per_term"]
    locales = results["locales"]
    glosses = sorted({_heatmap_row(row) for row in rows})
    grid = np.full((len(glosses), len(locales)), np.nan)
    labels = [["" for _ in locales] for _ in glosses]
    for row in rows:
        i, j = glosses.index(_heatmap_row(row)), locales.index(row["locale"])
        value = row["split_half"]
        grid[i, j] = np.nan if value is None else value
        labels[i][j] = "–" if value is None else f"{value:.2f}" + ("*" if row["flagged"] else "")
    figure = _figure(width=2.0 + 1.3 * len(locales), height=1.5 + 0.28 * len(glosses))
    axes = figure.subplots()
    image = axes.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(locales)), locales)
    axes.set_yticks(range(len(glosses)), glosses)
    for i, line in enumerate(labels):
        for j, text in enumerate(line):
            dark = np.isnan(grid[i, j]) or grid[i, j] < 0.6
            axes.text(
                j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black"
            )
    figure.colorbar(image, ax=axes, label="split-half reliability (Spearman–Brown)")
    axes.set_title(
        f"Reliability of song means per term (gloss) and locale; * below "
        f"{results['reliability']['threshold']}"
    )
    return figure


def _heatmap_row(row: dict[str, Any]) -> str:
    """Terms share a row by gloss; a term without one gets its own, named by its label."""
    gloss = row["gloss"].strip().casefold()
    return gloss or f"{ltr(row.get('label') or row['term'])} ({row['locale']}, no gloss)"


def ltr(text: str) -> str:
    """Text between left-to-right marks, so a line holding an Arabic term reads left to right
    and the characters after the term stay after it: without them a line starting with
    Arabic is laid out right to left ("حزين / sad" shows as "sad / حزين"), and "حزين / حزن"
    shows its two terms swapped, as one right-to-left run."""
    return f"\u200e{text}\u200e"


def valence_arousal_plane(results: dict[str, Any]) -> Figure:
    """Each locale's songs on the shared valence–arousal axes, one panel per locale."""
    scores = results["across_locales"]["song_scores"]
    locales = list(scores)
    columns = min(len(locales), 3) or 1
    rows = -(-len(locales) // columns) or 1
    figure = _figure(width=4.0 * columns, height=1.2 + 3.8 * rows)
    panels = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    reference = results["across_locales"].get("reference_locale")
    for axes, locale in zip(panels, locales, strict=False):
        data = scores[locale]
        # Points as an embedded image: thousands of SVG paths would make a megabyte file.
        axes.scatter(
            data["shared_valence"], data["shared_arousal"], s=6, alpha=0.6, rasterized=True
        )
        axes.axhline(0, color="grey", linewidth=0.5)
        axes.axvline(0, color="grey", linewidth=0.5)
        axes.set_title(f"{locale} ({len(data['songs'])} songs)")
        axes.set_xlabel("valence")
        axes.set_ylabel("arousal")
    for axes in panels[len(locales) :]:
        axes.set_visible(False)
    figure.suptitle(
        "Songs on the valence–arousal plane"
        + (f", rotated onto {reference}'s axes" if reference else "")
    )
    return figure


def congruence_matrix(results: dict[str, Any]) -> Figure:
    """Tucker congruence after Procrustes rotation, locale × locale, for both axes."""
    across = results["across_locales"]
    figure = _figure(width=10.0, height=5.0)
    panels = figure.subplots(1, 2)
    if "congruence" not in across:
        for axes in panels:
            axes.set_axis_off()
        panels[0].text(0, 0.5, across.get("note", "no comparison"), fontsize=10)
        return figure
    locales = across["locales"]
    for axes, axis in zip(panels, ("valence", "arousal"), strict=True):
        matrix = np.array(across["congruence"][axis], dtype=float)
        image = axes.imshow(matrix, cmap="magma", vmin=0.8, vmax=1.0)
        axes.set_xticks(range(len(locales)), locales, rotation=45)
        axes.set_yticks(range(len(locales)), locales)
        for (i, j), value in np.ndenumerate(matrix):
            # Black on the colour map's light end, white on its dark end: readable on both.
            axes.text(
                j,
                i,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=9,
                fontweight="bold",
                color="black" if value >= 0.93 else "white",
            )
        axes.set_title(f"{axis} ({across['n_shared_songs']} shared songs)")
        axes.set_xlabel("rotated locale")
        axes.set_ylabel("target locale")
    figure.colorbar(image, ax=list(panels), label="congruence after Procrustes rotation")
    figure.suptitle("How alike the locales' mood spaces are")
    return figure


def equivalent_terms_table(results: dict[str, Any], *, limit: int = 20) -> Figure:
    """The most divergent dictionary-equivalent terms, as a table figure."""
    rows = results["equivalent_terms"][:limit]
    header = [
        "gloss",
        "locales",
        "terms",
        "songs",
        "r [95% CI]",
        "ceiling",
        "disattenuated r",
        "p below",
    ]
    cells = [
        [
            row["gloss"],
            f"{row['locale_a']} / {row['locale_b']}",
            f"{ltr(row.get('label_a') or row['term_a'])} / "
            f"{ltr(row.get('label_b') or row['term_b'])}",
            str(row["n_songs"]),
            f"{_number(row['r'])} [{_number(row['ci_low'])}, {_number(row['ci_high'])}]",
            _number(row["ceiling"]),
            _disattenuated(row),
            _number(row["p_below_ceiling"], digits=3),
        ]
        for row in rows
    ] or [["no equivalent terms", "", "", "", "", "", "", ""]]
    figure = _figure(width=12.0, height=0.8 + 0.25 * len(cells))
    axes = figure.subplots()
    axes.set_axis_off()
    table = axes.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.auto_set_column_width(list(range(len(header))))
    axes.set_title(
        "Dictionary-equivalent terms, most divergent first (ceiling − r); "
        "≥ 1.00* : r above its ceiling, capped"
    )
    return figure


FIGURES: dict[str, tuple[str, Callable[[dict[str, Any]], Figure]]] = {
    "reliability": ("Reliability heat map", reliability_heatmap),
    "valence-arousal": ("Songs on the valence–arousal plane", valence_arousal_plane),
    "congruence": ("Component congruence", congruence_matrix),
    "equivalent-terms": ("Dictionary-equivalent terms", equivalent_terms_table),
}


def render(
    name: str, results: dict[str, Any], *, fmt: str = "svg", finished_at: datetime | None = None
) -> bytes:
    """One figure as SVG or PNG bytes, captioned with its source and parameters."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {sorted(FORMATS)}")
    _title, draw = FIGURES[name]
    with rc_context(
        {"font.family": _font_families(), "svg.fonttype": "none", "svg.hashsalt": "moodlab"}
    ):
        figure = draw(results)
        # A suplabel, unlike free text, gets room from the constrained layout.
        text = textwrap.fill(
            caption(results, finished_at=finished_at), width=int(figure.get_figwidth() * 22)
        )
        figure.supxlabel(text, fontsize=6, x=0.01, ha="left", multialignment="left")
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=120, metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    # A fixed date makes the same results give the same SVG bytes (cacheable, diffable).
    return {"Date": None} if fmt == "svg" else {}


def _figure(*, width: float, height: float) -> Figure:
    # Figure() rather than pyplot: no global figure registry to leak in a web worker, and
    # savefig draws PNG with Agg whatever backend the process chose.
    return Figure(figsize=(width, height + 0.4), layout="constrained")


def _disattenuated(row: dict[str, Any]) -> str:
    """The capped disattenuated r; an r above its ceiling is marked, never shown as > 1."""
    return "≥ 1.00*" if row.get("above_ceiling") else _number(row.get("disattenuated_r"))


def _number(value: float | None, *, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"
