"""What the rating app tells the core (registered in `RatingConfig.ready()`): when a
locale's rating is done, which trials were skipped for audio, the dashboard's rating charts
and how a simulated participant rates. See `moodlab.studies.extensions`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

from django.db.models import Q, QuerySet

from moodlab.studies.extensions import Extension
from moodlab.studies.models import Study, StudyLocale, label_field_of
from moodlab.studies.services.recruitment import REASON_RATING_TARGET
from rating.models import Cell, Trial
from rating.selectors import adaptive_stopping_saving
from rating.simulated import simulate_rating_participant


def locale_rating_done(locale: StudyLocale) -> bool:
    """Every song × selected term of the locale has its target, or is retired."""
    study = locale.study
    terms = locale.terms.filter(is_selected=True).values("pk")
    wanted = study.songs.count() * terms.count()
    done = Cell.objects.filter(locale=locale, term__in=terms).filter(
        Q(rated__gte=study.target_ratings_per_cell) | Q(retired_at__isnull=False)
    )
    return wanted > 0 and done.count() >= wanted


def trials_skipped_for_audio() -> QuerySet[Trial]:
    return Trial.objects.filter(status=Trial.Status.NO_AUDIO)


def locale_rating_charts(locale: StudyLocale) -> Mapping[str, object]:
    study = locale.study
    return {
        "ratings_per_cell": _cell_histogram(study, locale),
        "coverage": _coverage(study, locale),
    }


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


def rating_overview(study: Study) -> Mapping[str, int]:
    """For the study page: what adaptive stopping saved so far (nothing when it is off)."""
    if not study.adaptive_stopping:
        return {}
    saving = adaptive_stopping_saving(study=study)
    return {
        "ratings_saved": saving.ratings_saved,
        "fixed_design_ratings": saving.fixed_design_ratings,
        "retired_cells": saving.retired_cells,
    }


RATING = Extension(
    app="rating",
    phase=Study.Phase.RATING,
    work_done=locale_rating_done,
    work_done_reason=REASON_RATING_TARGET,
    skipped_for_audio=trials_skipped_for_audio,
    overview=rating_overview,
    dashboard=locale_rating_charts,
    simulated_participant=simulate_rating_participant,
)
