"""How the job commands end: a success line, or the problems and a non-zero exit status."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from analysis.models import JobOutcome
from analysis.services.outcomes import JobReport

EXIT_FAILED = 1
EXIT_WARNINGS = 2


def command_finish(command: BaseCommand, report: JobReport, success: str) -> None:
    """Print what the job did; a failure exits 1, warnings exit 2 (scripts must notice)."""
    if report.outcome == JobOutcome.FAILED:
        command.stdout.write(success)
        raise CommandError(" ".join(report.problems), returncode=EXIT_FAILED)
    if report.outcome == JobOutcome.WARNINGS:
        command.stdout.write(command.style.WARNING(success))
        for problem in report.problems:
            command.stderr.write(command.style.WARNING(f"Warning: {problem}"))
        raise CommandError("finished with warnings (see above)", returncode=EXIT_WARNINGS)
    command.stdout.write(command.style.SUCCESS(success))
