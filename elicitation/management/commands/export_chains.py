from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from elicitation.export import CHAIN_EXPORT_COLUMNS, chain_export_rows
from moodlab.studies.csv_safety import write_safe_csv
from moodlab.studies.management.study_option import add_study_option, get_study


class Command(BaseCommand):
    help = "Export a study's elicitation chains as CSV: one row per tag per turn."

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)
        parser.add_argument("-o", "--output", type=Path, help="CSV file (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        rows = chain_export_rows(study=study)
        if options["output"] is None:
            self.stdout.ending = ""  # the csv module ends its own lines
            write_safe_csv(rows, fieldnames=CHAIN_EXPORT_COLUMNS, out=self.stdout)  # type: ignore[arg-type]
            return
        with options["output"].open("w", encoding="utf-8", newline="") as out:
            count = write_safe_csv(rows, fieldnames=CHAIN_EXPORT_COLUMNS, out=out)
        self.stderr.write(f"{count} rows written to {options['output']}")
