"""What a researcher watches while a study runs: the figures of the study dashboard.

`study_overview` gives the study page its counts per phase; `study_dashboard` the data of
the live charts (participants over time, ratings per cell against the target, song × term
coverage, chains filling), as plain JSON the admin page draws in the browser. The phase
apps give their own counts and charts (`moodlab.studies.extensions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from moodlab.studies.extensions import extensions
from moodlab.studies.models import Participant, Study, StudyLocale, Term
from moodlab.studies.selectors import songs_playable

# Points on the participants-over-time chart; enough for a smooth curve, few to send.
TIME_POINTS = 24
OUTCOMES = ("started", "completed", "screened_out", "timed_out")


@dataclass(frozen=True)
class StudyCounts:
    locales: int
    songs: int
    playable_songs: int
    terms: int
    selected_terms: int
    participants: int
    completed: int
    of_apps: dict[str, int]
    """The phase apps' counts, by name (elicitation: `chains`, `complete_chains`)."""


def study_overview(*, study: Study) -> StudyCounts:
    """The counts the study page shows beside its phase stepper, in a handful of queries."""
    terms = Term.objects.filter(locale__study=study).aggregate(
        total=Count("id"), selected=Count("id", filter=Q(is_selected=True))
    )
    people = study.participants.aggregate(
        total=Count("id"), completed=Count("id", filter=Q(status=Participant.Status.COMPLETED))
    )
    return StudyCounts(
        locales=study.locales.filter(is_active=True).count(),
        songs=study.songs.count(),
        playable_songs=songs_playable(study=study).count(),
        terms=terms["total"],
        selected_terms=terms["selected"],
        participants=people["total"],
        completed=people["completed"],
        of_apps={
            name: count
            for extension in extensions()
            if extension.overview is not None
            for name, count in extension.overview(study).items()
        },
    )


def study_dashboard(*, study: Study, now: datetime | None = None) -> dict[str, object]:
    """The live charts' data, per active locale."""
    now = now or timezone.now()
    locales = list(study.locales.filter(is_active=True).order_by("code"))
    return {
        "updated_at": now.isoformat(),
        "phase": study.get_phase_display(),
        "target": study.target_ratings_per_cell,
        "max_turns": study.max_turns_per_chain,
        "locales": [
            {
                "code": locale.code,
                "direction": locale.direction,
                "participants": _participants_over_time(locale, now),
                **{
                    chart: data
                    for extension in extensions()
                    if extension.dashboard is not None
                    for chart, data in extension.dashboard(locale).items()
                },
            }
            for locale in locales
        ],
    }


def _participants_over_time(locale: StudyLocale, now: datetime) -> dict[str, object]:
    """Cumulative sessions started, and ended by each outcome, at evenly spaced times."""
    rows = list(
        Participant.objects.filter(locale=locale).values_list("started_at", "finished_at", "status")
    )
    if not rows:
        return {"times": [], **{outcome: [] for outcome in OUTCOMES}}
    first = min(started for started, _, _ in rows)
    span = max(now - first, timedelta(minutes=1))
    times = [first + span * i / (TIME_POINTS - 1) for i in range(TIME_POINTS)]
    series: dict[str, list[int]] = {outcome: [] for outcome in OUTCOMES}
    for moment in times:
        series["started"].append(sum(1 for started, _, _ in rows if started <= moment))
        for outcome in OUTCOMES[1:]:
            series[outcome].append(
                sum(
                    1
                    for _, finished, status in rows
                    if status == outcome and finished is not None and finished <= moment
                )
            )
    return {"times": [moment.isoformat() for moment in times], **series}
