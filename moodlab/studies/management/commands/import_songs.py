from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.management.study_option import add_study_option, get_study
from moodlab.studies.services.song_import import AudioDirectory, songs_import


class Command(BaseCommand):
    help = "Import a study's songs from a CSV (GlobalMood's songmeta file works as it is)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file", type=Path)
        add_study_option(parser, required=False)
        parser.add_argument(
            "--audio-dir", type=Path, help="Folder of audio files named by external id"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        csv_file: Path = options["csv_file"]
        if not csv_file.is_file():
            raise CommandError(f"{csv_file} is not a file.")
        audio_dir: Path | None = options["audio_dir"]
        if audio_dir is not None and not audio_dir.is_dir():
            raise CommandError(f"{audio_dir} is not a folder.")
        try:
            report = songs_import(
                study=study,
                csv_source=csv_file.read_bytes(),
                audio=AudioDirectory(audio_dir) if audio_dir else None,
            )
        except ImportFailed as failure:
            for error in failure.report.errors:
                self.stderr.write(str(error))
            raise CommandError(failure.report.summary()) from failure
        self.stdout.write(self.style.SUCCESS(f"{study.slug}: {report.summary()}"))
