"""The --study option every MoodLab command shares."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from moodlab.studies.models import Study


def add_study_option(parser: CommandParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--study",
        required=required,
        metavar="SLUG",
        help="The study's slug" + ("" if required else " (optional when there is only one study)"),
    )


def get_study(slug: str | None) -> Study:
    if slug:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}. Known: {_known()}")
        return study
    studies = list(Study.objects.all()[:2])
    if len(studies) != 1:
        raise CommandError(f"Name the study with --study SLUG. Known: {_known()}")
    return studies[0]


def _known() -> str:
    return ", ".join(Study.objects.values_list("slug", flat=True)) or "(none yet)"
