from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.crosscultural import figures
from analysis.crosscultural.computation import AnalysisParams
from analysis.crosscultural.models import CrossCulturalAnalysis
from analysis.crosscultural.report import report_file_html
from analysis.crosscultural.services import (
    analysis_create,
    analysis_params_validate,
    analysis_run,
)
from moodlab.errors import DomainError
from moodlab.studies.management.study_option import add_study_option, get_study


class Command(BaseCommand):
    help = (
        "Run the cross-cultural analysis of a study now (no worker needed), store it like a "
        "queued run, and write report.html (the admin's report), report.json and the figures "
        "(SVG and PNG) to --out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)
        parser.add_argument("--snapshot", metavar="VERSION", default="")
        parser.add_argument("--out", metavar="DIR", type=Path)
        parser.add_argument("--seed", type=int, default=AnalysisParams.seed)
        parser.add_argument(
            "--repetitions", type=int, default=AnalysisParams.split_half_repetitions
        )
        parser.add_argument("--threshold", type=float, default=AnalysisParams.reliability_threshold)

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        try:
            params = analysis_params_validate(
                {
                    "seed": options["seed"],
                    "split_half_repetitions": options["repetitions"],
                    "reliability_threshold": options["threshold"],
                }
            )
            queued = analysis_create(
                study=study, params=params, snapshot_version=options["snapshot"]
            )
        except DomainError as refusal:
            raise CommandError(str(refusal)) from refusal
        analysis = analysis_run(analysis_id=queued.pk)
        if analysis.status != CrossCulturalAnalysis.Status.SUCCEEDED:
            raise CommandError(f"Analysis {analysis.pk} failed: {analysis.error}")
        self.stdout.write(self.style.SUCCESS(f"Analysis {analysis.pk} of {study.slug} finished."))
        if options["out"]:
            self._write(analysis, options["out"])

    def _write(self, analysis: CrossCulturalAnalysis, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        report = out / "report.json"
        report.write_text(json.dumps(analysis.results, ensure_ascii=False, indent=1))
        (out / "report.html").write_text(report_file_html(analysis), encoding="utf-8")
        for name in figures.FIGURES:
            for fmt in figures.FORMATS:
                content = figures.render(
                    name, analysis.report, fmt=fmt, finished_at=analysis.finished_at
                )
                (out / f"{name}.{fmt}").write_bytes(content)
        self.stdout.write(
            f"Wrote report.html, report.json and {2 * len(figures.FIGURES)} figures to {out}."
        )
