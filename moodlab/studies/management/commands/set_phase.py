from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moodlab.errors import DomainError
from moodlab.studies.management.study_option import add_study_option, get_study
from moodlab.studies.models import Study
from moodlab.studies.preflight import phase_preflight
from moodlab.studies.services.studies import study_set_phase

MARKS = {"blocker": "BLOCKS", "warning": "WARNING", "ok": "ok"}


class Command(BaseCommand):
    help = (
        "Move a study to its next phase after its pre-flight checklist: blockers refuse the "
        "move, warnings need --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)
        parser.add_argument("--phase", required=True, choices=Study.Phase.values)
        parser.add_argument(
            "--yes", action="store_true", help="Confirm the checklist's warnings and move."
        )
        parser.add_argument(
            "--check", action="store_true", help="Print the checklist only; move nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        preflight = phase_preflight(study=study, phase=options["phase"])
        for check in preflight.checks:
            self.stdout.write(f"[{MARKS[check.level]:>7}] {check.title}: {check.detail}")
        self.stdout.write("Becomes final:")
        for item in preflight.final:
            self.stdout.write(f"  - {item}")
        if options["check"]:
            return
        try:
            study = study_set_phase(study=study, phase=options["phase"], confirm=options["yes"])
        except DomainError as error:
            hint = (
                " Run again with --yes to confirm the warnings."
                if (preflight.warnings and not preflight.blockers and not options["yes"])
                else ""
            )
            raise CommandError(f"{error}{hint}") from error
        self.stdout.write(f"{study.slug} is now in the {study.get_phase_display()} phase.")
