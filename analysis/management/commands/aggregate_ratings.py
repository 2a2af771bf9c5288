from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analysis.management.outcome import command_finish
from analysis.management.progress_bar import progress_bar
from analysis.services.aggregation import cells_aggregate
from analysis.services.outcomes import aggregation_report
from moodlab.studies.management.study_option import add_study_option, get_study


class Command(BaseCommand):
    help = "Recompute the mean ratings per song × term × locale of a study, now."

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        with progress_bar(f"Aggregating {study.slug}", sys.stderr) as progress:
            cells = cells_aggregate(study_id=study.pk, progress=progress)
        command_finish(
            self,
            aggregation_report(study_id=study.pk, cells=cells),
            f"{study.slug}: {cells} cells aggregated.",
        )
