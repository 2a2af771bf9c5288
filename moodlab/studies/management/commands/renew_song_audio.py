from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from moodlab.studies.management.study_option import add_study_option, get_study
from moodlab.studies.services.song_audio import study_audio_renew


class Command(BaseCommand):
    help = (
        "Re-store a study's audio under content names and encode every song that has no "
        "delivery file yet (for audio imported before transcoding existed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        queued, problems = study_audio_renew(study=get_study(options["study"]))
        for problem in problems:
            self.stderr.write(problem)
        self.stdout.write(f"{queued} song(s) queued for encoding, {len(problems)} refused.")
