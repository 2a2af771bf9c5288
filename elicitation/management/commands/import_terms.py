from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.management.study_option import add_study_option, get_study
from moodlab.studies.services.term_import import terms_import


class Command(BaseCommand):
    help = "Import a locale's rating terms (GlobalMood's terms_{lang}.csv works as it is)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", type=Path)
        add_study_option(parser, required=False)
        parser.add_argument("--locale", required=True, help="Locale code, e.g. ko-KR")

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        locale = study.locales.filter(code=options["locale"]).first()
        if locale is None:
            known = ", ".join(study.locales.values_list("code", flat=True))
            raise CommandError(f"{study.slug} has no locale {options['locale']!r}. Known: {known}")
        try:
            report = terms_import(locale=locale, csv_source=options["csv_file"].read_bytes())
        except FileNotFoundError as exc:
            raise CommandError(f"{options['csv_file']} is not a file.") from exc
        except ImportFailed as failure:
            for error in failure.report.errors:
                self.stderr.write(str(error))
            raise CommandError(failure.report.summary()) from failure
        self.stdout.write(self.style.SUCCESS(f"{locale}: {report.summary()}"))
