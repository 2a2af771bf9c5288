from __future__ import annotations

import sys
from typing import Any

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandParser

from analysis.management.outcome import command_finish
from analysis.management.progress_bar import progress_bar
from analysis.services.outcomes import export_report
from analysis.services.snapshots import snapshot_export
from moodlab.studies.management.study_option import add_study_option, get_study


class Command(BaseCommand):
    help = "Export the next version of a study's dataset snapshot to the snapshots storage."

    def add_arguments(self, parser: CommandParser) -> None:
        add_study_option(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        study = get_study(options["study"])
        with progress_bar(f"Exporting {study.slug}", sys.stderr) as progress:
            snapshot = snapshot_export(study_id=study.pk, progress=progress)
        storage = storages["snapshots"]
        where = getattr(storage, "location", "")
        bucket = getattr(storage, "bucket_name", None)
        place = (
            f"s3://{bucket}/{where}/{snapshot.folder}" if bucket else f"{where}/{snapshot.folder}"
        )
        command_finish(
            self,
            export_report(snapshot=snapshot),
            f"{study.slug}: snapshot v{snapshot.version} written to {place}",
        )
