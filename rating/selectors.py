"""Reads of rating sessions: what a participant sees, and progress for researchers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest
from django.utils.translation import override

from moodlab.studies.models import Participant, Study, StudyLocale, Term
from moodlab.studies.scale import SCALE_LABELS
from rating.models import Cell, Trial
from rating.services import session_terms, trial_counts


@dataclass(frozen=True)
class TermView:
    id: int
    label: str
    gloss: str


@dataclass(frozen=True)
class ScalePoint:
    value: int
    label: str


@dataclass(frozen=True)
class TrialView:
    """The current trial as the participant sees it; repeats look like any other trial."""

    trial: Trial | None
    terms: list[TermView]
    scale: list[ScalePoint]
    done: int
    total: int
    seconds_per_trial: int
    # No song is free right now (other sessions hold them): the page asks again later.
    waiting: bool = False
    session_ended: bool = False

    @property
    def finished(self) -> bool:
        return self.trial is None and not self.waiting

    @property
    def estimated_seconds_remaining(self) -> int:
        return (self.total - self.done) * self.seconds_per_trial


def trial_view(
    *, participant: Participant, trial: Trial | None, waiting: bool = False
) -> TrialView:
    """Terms and scale in the participant's language, and progress, in at most two queries."""
    study = participant.study
    with override(participant.locale.language):
        terms = [
            TermView(id=term.pk, label=term.label, gloss=term.gloss)
            for term in session_terms(participant=participant)
        ]
        scale = [ScalePoint(value=value, label=str(label)) for value, label in SCALE_LABELS.items()]
    counts = trial_counts(participant=participant)
    # Once repeats begin, the regular part is over, even if the songs ran out early.
    regular = counts.regular if counts.repeats else study.trials_per_participant
    total = regular + study.repeat_trials if trial is not None or waiting else counts.submitted
    return TrialView(
        trial=trial,
        terms=terms,
        scale=scale,
        done=counts.submitted,
        total=total,
        seconds_per_trial=study.seconds_per_term * len(terms),
        waiting=waiting,
        session_ended=participant.status != Participant.Status.STARTED,
    )


@dataclass(frozen=True)
class LocaleProgress:
    locale: StudyLocale
    started: int
    completed: int
    screened_out: int
    timed_out: int
    excluded: int
    cells: int
    cell_min: int
    cell_median: float
    cell_max: int
    target: int
    retired_cells: int
    ratings_saved: int


def study_progress(*, study: Study) -> list[LocaleProgress]:
    """Per locale: participants by outcome and submitted ratings per song × term cell.

    Cells never rated count as zero. Ratings saved by adaptive stopping are the places a
    retired cell still had below the target. Three grouped queries, whatever the size.
    """
    locales = list(
        study.locales.annotate(
            selected_terms=Count("terms", filter=Q(terms__is_selected=True))
        ).order_by("code")
    )
    statuses = {
        (row["locale"], row["status"]): row["n"]
        for row in Participant.objects.filter(study=study, phase=Participant.Phase.RATING)
        .values("locale", "status")
        .annotate(n=Count("id"))
    }
    rated: dict[int, list[int]] = {locale.pk: [] for locale in locales}
    for locale_id, count in Cell.objects.filter(locale__study=study).values_list("locale", "rated"):
        rated[locale_id].append(count)
    retired = _retired_cells(study)
    song_count = study.songs.count()
    target = study.target_ratings_per_cell
    rows = []
    for locale in locales:
        cell_count = song_count * locale.selected_terms
        counts = rated[locale.pk] + [0] * max(cell_count - len(rated[locale.pk]), 0)
        retired_count, saved = retired.get(locale.pk, (0, 0))
        by_status = {value: statuses.get((locale.pk, value), 0) for value in Participant.Status}
        rows.append(
            LocaleProgress(
                locale=locale,
                started=sum(by_status.values()),
                completed=by_status[Participant.Status.COMPLETED],
                screened_out=by_status[Participant.Status.SCREENED_OUT],
                timed_out=by_status[Participant.Status.TIMED_OUT],
                excluded=by_status[Participant.Status.EXCLUDED],
                cells=cell_count,
                cell_min=min(counts, default=0),
                cell_median=statistics.median(counts) if counts else 0,
                cell_max=max(counts, default=0),
                target=target,
                retired_cells=retired_count,
                ratings_saved=saved,
            )
        )
    return rows


@dataclass(frozen=True)
class StoppingSaving:
    """What adaptive stopping saved so far against the fixed design of the same study."""

    retired_cells: int
    ratings_saved: int
    fixed_design_ratings: int
    """Ratings the fixed design asks for: every selected song × term cell at the target."""

    @property
    def share(self) -> float:
        return self.ratings_saved / self.fixed_design_ratings if self.fixed_design_ratings else 0.0


def adaptive_stopping_saving(*, study: Study) -> StoppingSaving:
    """Ratings saved: the places retired cells still have below the target, which the fixed
    design would fill. A trial rates all the session's terms, so a retired cell still gets
    ratings when its song is served for its other cells: the figure can go down as well as
    up, and is final once the locale is full."""
    retired = _retired_cells(study).values()
    cells = study.songs.count() * Term.objects.filter(locale__study=study, is_selected=True).count()
    return StoppingSaving(
        retired_cells=sum(count for count, _ in retired),
        ratings_saved=sum(saved for _, saved in retired),
        fixed_design_ratings=cells * study.target_ratings_per_cell,
    )


def _retired_cells(study: Study) -> dict[int, tuple[int, int]]:
    """Per locale: cells retired by adaptive stopping, and the places they left unused."""
    queryset: QuerySet[Cell] = Cell.objects.filter(locale__study=study, retired_at__isnull=False)
    return {
        row["locale"]: (row["n"], row["saved"] or 0)
        for row in queryset.values("locale").annotate(
            n=Count("id"),
            saved=Sum(
                Greatest(
                    Value(study.target_ratings_per_cell) - F("assigned"),
                    Value(0),
                    output_field=IntegerField(),
                )
            ),
        )
    }
