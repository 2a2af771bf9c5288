"""The report of a finished analysis as the admin shows it, and as one file beside its figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

from analysis.crosscultural import figures
from analysis.crosscultural.models import CrossCulturalAnalysis

FigureUrl = Callable[[str, str, bool], str]
"""(figure name, format, as a download) → where the figure is."""


def report_context(
    analysis: CrossCulturalAnalysis, *, figure_url: FigureUrl, json_url: str
) -> dict[str, Any]:
    """What templates/crosscultural/report_body.html needs to show one analysis."""
    return {
        "analysis": analysis,
        "results": analysis.report,
        "caption": figures.caption(analysis.report, finished_at=analysis.finished_at),
        "json_url": json_url,
        "figures": [
            {
                "name": name,
                "title": title,
                "svg": figure_url(name, "svg", False),
                "svg_download": figure_url(name, "svg", True),
                "png_download": figure_url(name, "png", True),
            }
            for name, (title, _draw) in figures.FIGURES.items()
        ],
    }


def report_file_html(analysis: CrossCulturalAnalysis) -> str:
    """The report as a standalone page naming its figures and JSON by file name.

    `analyze --out` writes it next to report.json and the figures it links to.
    """
    context = report_context(
        analysis, figure_url=lambda name, fmt, _download: f"{name}.{fmt}", json_url="report.json"
    )
    return render_to_string("crosscultural/report_file.html", {**context, "study": analysis.study})
