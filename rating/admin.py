"""Rating data in the admin: progress per study and locale, trials, ratings.

The rating participants' list, where researchers exclude participants with a reason, is
analysis's (`analysis/admin.py`): exclusions are quality control's decisions.

Trials and ratings are read-only here: they change only through the participant API and
the services (an admin edit would bypass the cell ledger).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from moodlab.studies.admin_scoping import ReadOnlyAdminMixin, StudyScopedAdmin
from moodlab.studies.models import Participant
from moodlab.studies.selectors import studies_visible_to
from rating.models import Rating, Trial
from rating.selectors import study_progress


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdminMixin, StudyScopedAdmin[Trial]):
    study_path = "participant__study"
    list_display = [
        "id",
        "participant",
        "locale",
        "position",
        "song",
        "status",
        "is_repeat",
        "assigned_at",
        "response_seconds",
    ]
    list_filter = ["status", "is_repeat", "locale__study", "locale__code"]
    list_select_related = ["participant", "locale__study", "song"]
    search_fields = ["participant__public_id", "song__external_id"]
    show_full_result_count = False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "progress/",
                self.admin_site.admin_view(self.progress_index_view),
                name="rating_progress_index",
            ),
            path(
                "progress/<int:study_id>/",
                self.admin_site.admin_view(self.progress_view),
                name="rating_progress",
            ),
            *super().get_urls(),
        ]

    def progress_index_view(self, request: HttpRequest) -> HttpResponse:
        studies = studies_visible_to(request.user).order_by("title")
        return TemplateResponse(
            request,
            "admin/rating/progress.html",
            {
                **self.admin_site.each_context(request),
                "title": "Rating progress",
                "studies": studies,
            },
        )

    def progress_view(self, request: HttpRequest, study_id: int) -> HttpResponse:
        study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
        return TemplateResponse(
            request,
            "admin/rating/progress.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Rating progress: {study}",
                "study": study,
                "rows": study_progress(study=study),
            },
        )


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdminMixin, StudyScopedAdmin[Rating]):
    study_path = "participant__study"
    list_display = ["id", "participant", "song", "term", "value", "trial"]
    list_filter = ["value", "trial__is_repeat", "term__locale__study", "term__locale__code"]
    list_select_related = ["participant", "song", "term", "trial"]
    search_fields = ["participant__public_id", "song__external_id", "term__key"]
    show_full_result_count = False


class TrialInline(admin.TabularInline[Trial, Participant]):
    model = Trial
    fields = readonly_fields = (
        "position",
        "song",
        "status",
        "is_repeat",
        "response_seconds",
        "ratings_given",
    )
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Trial]:
        return (
            super()
            .get_queryset(request)
            .select_related("song")
            .prefetch_related("ratings__term")
            .order_by("position")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="ratings")
    def ratings_given(self, trial: Trial) -> str:
        return ", ".join(f"{r.term.key}: {r.value}" for r in trial.ratings.all())
