"""What a researcher watches while a study runs: the figures of the study dashboard.

`study_overview` gives the study page its counts per phase; `study_dashboard` the data of
the live charts (participants over time, ratings per cell against the target, song × term
coverage, chains filling), as plain JSON the admin page draws in the browser.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from elicitation.models import Chain
from elicitation.services.curation import label_field_of
from moodlab.studies.models import Participant, Study, StudyLocale, Term
from moodlab.studies.selectors import songs_playable
from rating.models import Cell

# Points on the participants-over-time chart; enough for a smooth curve, few to send.
TIME_POINTS = 24
OUTCOMES = ("started", "completed", "screened_out", "timed_out")


@dataclass(frozen=True)
class StudyCounts:
    locales: int
    songs: int
    playable_songs: int
    chains: int
    complete_chains: int
    terms: int
    selected_terms: int
    participants: int
    completed: int


def study_overview(*, study: Study) -> StudyCounts:
    """The counts the study page shows beside its phase stepper, in a handful of queries."""
    chains = Chain.objects.filter(study=study).aggregate(
        total=Count("id"), complete=Count("id", filter=Q(status=Chain.Status.COMPLETE))
    )
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
        chains=chains["total"],
        complete_chains=chains["complete"],
        terms=terms["total"],
        selected_terms=terms["selected"],
        participants=people["total"],
        completed=people["completed"],
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
                "ratings_per_cell": _cell_histogram(study, locale),
                "coverage": _coverage(study, locale),
                "chains": _chains(locale, study.max_turns_per_chain),
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


def _cell_histogram(study: Study, locale: StudyLocale) -> list[list[int]]:
    """[ratings in a cell, how many cells] for every count from 0 to the highest; unrated
    cells of the selected terms count at 0."""
    counts = Counter(Cell.objects.filter(locale=locale).values_list("rated", flat=True))
    cells = study.songs.count() * locale.terms.filter(is_selected=True).count()
    counts[0] += max(cells - sum(counts.values()), 0)
    highest = max([study.target_ratings_per_cell, *counts]) if counts else 0
    return [[rated, counts.get(rated, 0)] for rated in range(highest + 1)] if cells else []


def _coverage(study: Study, locale: StudyLocale) -> dict[str, object]:
    """Ratings per song (rows) × selected term (columns)."""
    terms = list(locale.terms.filter(is_selected=True).order_by("rank", "key"))
    songs = list(study.songs.order_by("external_id").values_list("pk", "external_id"))
    rated: dict[tuple[int, int], int] = defaultdict(int)
    for song_id, term_id, count in Cell.objects.filter(locale=locale).values_list(
        "song_id", "term_id", "rated"
    ):
        rated[song_id, term_id] = count
    return {
        "terms": [getattr(term, label_field_of(locale)) or term.key for term in terms],
        "songs": [external_id for _, external_id in songs],
        "values": [[rated[song_id, term.pk] for term in terms] for song_id, _ in songs],
    }


def _chains(locale: StudyLocale, max_turns: int) -> list[int]:
    """How many of the locale's chains have 0, 1, … max_turns turns done."""
    done = Counter(Chain.objects.filter(locale=locale).values_list("turns_done", flat=True))
    return [done.get(turns, 0) for turns in range(max_turns + 1)]
