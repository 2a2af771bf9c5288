"""Reads for the analysis jobs and the data users' API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from analysis.models import CellAggregate, ExclusionDecision, Snapshot, SnapshotAccessGrant
from elicitation.models import TermAlias
from moodlab.studies.models import Participant, Study, Term
from moodlab.studies.selectors import user_can_manage_study
from rating.models import Rating


def participants_counted(*, study_id: int) -> QuerySet[Participant]:
    """Participants whose ratings count: the one definition every job and export uses.

    Out: anyone the exclusion decision excludes (rules or a researcher's override), and
    sessions ended as excluded, unless a researcher explicitly included them again.
    """
    return (
        Participant.objects.filter(study_id=study_id)
        .exclude(exclusion__excluded=True)
        .exclude(
            Q(status=Participant.Status.EXCLUDED)
            & ~Q(exclusion__override=ExclusionDecision.Override.INCLUDE)
        )
    )


def participant_ids_to_filter(participants: QuerySet[Participant]) -> QuerySet[Any] | list[int]:
    """What a job filters a study's ratings by: on PostgreSQL the ids, elsewhere the subquery.

    Given the ids, PostgreSQL's planner knows how many ratings they have: it scans the whole
    table (in parallel) for a study that is most of it, and reads a small study's ratings
    through the participant index; behind a subquery it guesses, and scanned every study's
    ratings for a small one. SQLite takes a subquery of any size, where parameters are capped.
    No one at all also gets the subquery: the ORM compiles no SQL for `IN ()`.
    """
    if connection.vendor == "postgresql":
        ids = list(participants.values_list("pk", flat=True))
        if ids:
            return ids
    return participants.values("pk")


def user_can_read_study_data(user: AbstractBaseUser | AnonymousUser, study: Study) -> bool:
    """Researchers of the study, and users (API token holders) the study granted access."""
    if not user.is_authenticated:
        return False
    if user_can_manage_study(user, study):
        return True
    return SnapshotAccessGrant.objects.filter(study=study, user__pk=user.pk).exists()


def snapshots_visible_to(
    user: AbstractBaseUser | AnonymousUser, study: Study
) -> QuerySet[Snapshot]:
    """Complete snapshots only: all of them for readers of the study, published ones for anyone."""
    complete = Snapshot.objects.filter(study=study, status=Snapshot.Status.COMPLETE)
    if user_can_read_study_data(user, study):
        return complete
    return complete.filter(published=True)


def published_snapshots() -> QuerySet[Snapshot]:
    """The public catalogue: every published snapshot of every study, newest first."""
    return (
        Snapshot.objects.filter(published=True, status=Snapshot.Status.COMPLETE)
        .select_related("study")
        .order_by("-completed_at", "-pk")
    )


def studies_with_visible_snapshots(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Study]:
    """Studies the user may ask about: readable ones, or any with a published snapshot."""
    readable = Q(snapshots__published=True)
    if user.is_authenticated:
        readable |= Q(access_grants__user=user) | Q(researchers=user)
        if getattr(user, "is_superuser", False):
            return Study.objects.all()
    return Study.objects.filter(readable).distinct()


def cell_aggregates_of(
    *,
    study: Study,
    locale: str | None = None,
    song: str | None = None,
    term: str | None = None,
) -> QuerySet[CellAggregate]:
    """Mean ratings of a study, filtered by locale code, song external id and term key."""
    cells = CellAggregate.objects.filter(study=study).select_related("locale", "song", "term")
    if locale:
        cells = cells.filter(locale__code=locale)
    if song:
        cells = cells.filter(song__external_id=song)
    if term:
        cells = cells.filter(term__key=term)
    return cells.order_by("locale__code", "song__external_id", "term__key")


TERM_TABLE_COLUMNS = ("term_id", "locale", "label", "gloss", "key", "merged_keys", "rank")


def term_label_shown(term: Term) -> str:
    """The term as participants of its locale read it (the English label when untranslated)."""
    shown = getattr(term, f"label_{term.locale.language}", None)
    return shown or term.label_en or term.label  # type: ignore[attr-defined]


def study_terms_table(*, study: Study) -> list[dict[str, Any]]:
    """The study's rating terms, one dict per term with TERM_TABLE_COLUMNS, by locale and rank.

    Every term participants rated or may rate: the label as shown to them, the English gloss
    ("" when the term has none), the grouping key, the other keys merged into it during
    curation (";"-separated) and its selection rank. Snapshots export it as their terms
    table, and ratings and means refer to its term_id.
    """
    rated = Rating.objects.filter(term=OuterRef("pk"))
    terms = (
        Term.objects.filter(locale__study=study)
        .filter(Q(is_selected=True) | Exists(rated))
        .select_related("locale")
        .order_by("locale__code", "rank", "key")
    )
    merged: dict[int, list[str]] = {}
    for term_id, key in TermAlias.objects.filter(term__locale__study=study).values_list(
        "term_id", "key"
    ):
        merged.setdefault(term_id, []).append(key)
    return [
        {
            "term_id": term.pk,
            "locale": term.locale.code,
            "label": term_label_shown(term),
            "gloss": (term.label_en or "").strip(),  # type: ignore[attr-defined]
            "key": term.key,
            "merged_keys": ";".join(sorted(set(merged.get(term.pk, [])) - {term.key})),
            "rank": term.rank,
        }
        for term in terms
    ]
