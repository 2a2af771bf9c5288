"""Rating data in the admin: progress per study and locale, trials, ratings, exclusions.

Trials and ratings are read-only here: they change only through the participant API and
the services (an admin edit would bypass the cell ledger).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from analysis.models import ExclusionDecision
from analysis.services.quality import RULES, exclusion_override
from moodlab.errors import DomainError
from moodlab.studies.admin_scoping import ReadOnlyAdminMixin, StudyScopedAdmin
from moodlab.studies.models import Participant
from moodlab.studies.selectors import studies_visible_to
from moodlab.wording import plural
from rating.models import Rating, RatingParticipant, Trial
from rating.selectors import study_progress


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
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
class RatingAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
    study_path = "participant__study"
    list_display = ["id", "participant", "song", "term", "value", "trial"]
    list_filter = ["value", "trial__is_repeat", "term__locale__study", "term__locale__code"]
    list_select_related = ["participant", "song", "term", "trial"]
    search_fields = ["participant__public_id", "song__external_id", "term__key"]
    show_full_result_count = False


class TrialInline(admin.TabularInline):
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


class ExcludeForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Kept with the participant's record.")


@admin.register(RatingParticipant)
class RatingParticipantAdmin(StudyScopedAdmin):
    list_display = ["public_id", "locale", "status", "trial_count", "started_at"]
    list_filter = ["study", "locale__code", "status"]
    list_select_related = ["study", "locale"]
    search_fields = ["public_id"]
    fields = readonly_fields = (
        "public_id",
        "study",
        "locale",
        "status",
        "status_reason",
        "exclusion",
    )
    inlines = [TrialInline]
    actions = ["exclude_participants"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Participant]:
        return (
            super()
            .get_queryset(request)
            .filter(phase=Participant.Phase.RATING)
            .select_related("exclusion__overridden_by")
            .annotate(trials_done=Count("trials"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="trials", ordering="trials_done")
    def trial_count(self, participant: Any) -> int:
        return participant.trials_done

    @admin.display(description="exclusion")
    def exclusion(self, participant: Participant) -> str:
        decision: ExclusionDecision | None = getattr(participant, "exclusion", None)
        if decision is None or not decision.excluded:
            return "—"
        if decision.override == ExclusionDecision.Override.EXCLUDE:
            return (
                f"{decision.override_reason} (by {decision.overridden_by}, "
                f"{decision.overridden_at:%Y-%m-%d})"
            )
        return "quality rules: " + "; ".join(
            RULES[reason["rule"]].title if reason["rule"] in RULES else reason["rule"]
            for reason in decision.reasons
        )

    @admin.action(description="Exclude from the data (with a reason)")
    def exclude_participants(
        self, request: HttpRequest, queryset: QuerySet[Participant]
    ) -> HttpResponse | None:
        form = ExcludeForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            excluded = 0
            for participant in queryset:
                try:
                    exclusion_override(
                        participant_id=participant.pk,
                        override=ExclusionDecision.Override.EXCLUDE,
                        reason=form.cleaned_data["reason"],
                        user=request.user,  # type: ignore[arg-type]
                    )
                except DomainError as error:
                    self.message_user(request, f"{participant}: {error}", messages.WARNING)
                else:
                    excluded += 1
            self.message_user(request, f"{plural(excluded, 'participant')} excluded.")
            return None
        return TemplateResponse(
            request,
            "admin/rating/exclude.html",
            {
                **self.admin_site.each_context(request),
                "title": "Exclude participants",
                "participants": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
