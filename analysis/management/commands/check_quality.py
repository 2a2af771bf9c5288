from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analysis.management.outcome import command_finish
from analysis.management.progress_bar import progress_bar
from analysis.services.outcomes import quality_report
from analysis.services.quality import quality_check
from moodlab.studies.management.study_option import add_study_option, get_study


class Command(BaseCommand):
    help = "Run a study's quality-control rules and record the exclusions they imply."

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        with progress_bar(f"Checking {study.slug}", sys.stderr) as progress:
            run = quality_check(study_id=study.pk, progress=progress)
        command_finish(
            self,
            quality_report(run=run),
            f"{study.slug}: {run.participants_checked} participants checked, "
            f"{run.participants_excluded} excluded (quality run {run.pk}).",
        )
