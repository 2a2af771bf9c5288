"""The study page as a researcher's hub: phase stepper, pre-flight page, live dashboard.

Plain Django admin views added to `StudyAdmin` (see README, "The admin"): they read through
selectors and change state only through `study_set_phase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from moodlab.errors import DomainError
from moodlab.studies.dashboard import StudyCounts, study_dashboard, study_overview
from moodlab.studies.models import Study
from moodlab.studies.preflight import phase_preflight
from moodlab.studies.selectors import studies_visible_to
from moodlab.studies.services.studies import PHASE_ORDER, study_set_phase
from moodlab.wording import plural

# What each phase needs before it can start, and what happens in it, for the stepper.
PHASE_NEEDS: dict[str, str] = {
    Study.Phase.DRAFT: "Set the parameters, add locales with their panel links, import songs "
    "with audio.",
    Study.Phase.ELICITATION: "Participants describe the songs in their own words; chains fill.",
    Study.Phase.CURATION: "Merge, rename and gloss each locale's terms; select the top N.",
    Study.Phase.RATING: "Participants rate songs on the selected terms; cells fill to the target.",
    Study.Phase.CLOSED: "No more data; run the jobs, publish a snapshot, run the analysis.",
}


@dataclass(frozen=True)
class Step:
    value: str
    label: str
    needs: str
    state: str  # "done", "current" or "next"


def phase_steps(study: Study) -> list[Step]:
    current = PHASE_ORDER.index(study.phase)
    return [
        Step(
            value=phase.value,
            label=str(phase.label),
            needs=PHASE_NEEDS[phase.value],
            state="done" if index < current else "current" if index == current else "next",
        )
        for index, phase in enumerate(Study.Phase)
    ]


@dataclass(frozen=True)
class HubLink:
    label: str
    url: str
    count: str = ""


def hub_links(study: Study, counts: StudyCounts) -> list[HubLink]:
    """Everything of this study, one click away, with how much of it there is."""
    by_study = f"?study__id__exact={study.pk}"
    by_locale_study = f"?locale__study__id__exact={study.pk}"
    apps = counts.of_apps
    return [
        HubLink(
            "Songs",
            reverse("admin:studies_song_changelist") + by_study,
            f"{counts.playable_songs} of {counts.songs} playable",
        ),
        HubLink("Import songs (CSV + zip)", reverse("admin:studies_song_import") + by_study),
        HubLink("Import terms (CSV)", reverse("admin:studies_term_import") + by_study),
        HubLink(
            "Chains",
            reverse("admin:elicitation_chain_changelist") + by_study,
            f"{apps.get('complete_chains', 0)} of {apps.get('chains', 0)} complete",
        ),
        HubLink("Export chains (CSV)", reverse("admin:elicitation_chain_export") + by_study),
        HubLink(
            "Curate terms",
            reverse("admin:elicitation_curationterm_study", args=[study.pk]),
            f"{counts.selected_terms} of {counts.terms} selected",
        ),
        HubLink(
            "Participants",
            reverse("admin:studies_participant_changelist") + by_study,
            f"{counts.completed} of {counts.participants} completed",
        ),
        HubLink(
            "Rating participants (exclude with a reason)",
            reverse("admin:rating_ratingparticipant_changelist") + by_study,
        ),
        HubLink(
            "Dashboard (live charts)", reverse("admin:studies_study_dashboard", args=[study.pk])
        ),
        HubLink(
            "Rating progress (table)",
            reverse("admin:rating_progress", args=[study.pk]),
            _stopping_saving(apps),
        ),
        HubLink(
            "Quality-control rules",
            reverse("admin:analysis_qualityrulesetting_changelist") + by_study,
        ),
        HubLink("Exclusions", reverse("admin:analysis_exclusiondecision_changelist") + by_study),
        HubLink("Run jobs", reverse("admin:analysis_studyjobs_changelist") + f"?q={study.slug}"),
        HubLink("Job runs", reverse("admin:analysis_jobrun_changelist") + by_study),
        HubLink("Snapshots", reverse("admin:analysis_snapshot_changelist") + by_study),
        HubLink(
            "Analyses",
            reverse("admin:crosscultural_crossculturalanalysis_changelist") + by_study,
        ),
        HubLink(
            "Run the cross-cultural analysis",
            reverse("admin:crosscultural_analysis_run") + f"?study={study.pk}",
        ),
        HubLink(
            "Analysis report", reverse("admin:crosscultural_analysis_report", args=[study.slug])
        ),
        HubLink("Terms (all locales)", reverse("admin:studies_term_changelist") + by_locale_study),
    ]


def _stopping_saving(apps: dict[str, int]) -> str:
    """What adaptive stopping left unspent so far; empty when it is off.

    Worded as ratings not spent, not as a saving: retired cells stop at the study's standard
    error, which is less precision than the fixed design's full count gives them, and the
    benchmark (README, "Adaptive stopping") finds no saving at equal precision.
    """
    if "fixed_design_ratings" not in apps:
        return ""
    saved, fixed = apps["ratings_saved"], apps["fixed_design_ratings"]
    return (
        f"adaptive stopping retired {plural(apps['retired_cells'], 'cell')} at the target "
        f"standard error: {saved:,} of the fixed design's {fixed:,} ratings not spent "
        f"({saved / fixed if fixed else 0:.0%})"
    )


def hub_context(study: Study) -> dict[str, Any]:
    counts = study_overview(study=study)
    return {"steps": phase_steps(study), "counts": counts, "hub_links": hub_links(study, counts)}


class PhaseMoveForm(forms.Form):
    confirm = forms.BooleanField(
        required=False, label="I have read the checklist and understand what becomes final."
    )


def phase_view(
    modeladmin: ModelAdmin[Study], request: HttpRequest, study_id: int, phase: str
) -> HttpResponse:
    """The pre-flight checklist of one move, and the confirmed move itself."""
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    change_url = reverse("admin:studies_study_change", args=[study.pk])
    if phase not in PHASE_ORDER or not modeladmin.has_change_permission(request, study):
        return HttpResponseRedirect(change_url)
    form = PhaseMoveForm(request.POST if request.method == "POST" else None)
    preflight = phase_preflight(study=study, phase=phase)
    if request.method == "POST" and form.is_valid():
        if not form.cleaned_data["confirm"]:
            form.add_error("confirm", "Tick the box to confirm: this move cannot be undone.")
        else:
            try:
                study = study_set_phase(study=study, phase=phase, confirm=True)
            except DomainError as error:
                modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                modeladmin.message_user(
                    request, f"{study} is now in the {study.get_phase_display()} phase."
                )
                return HttpResponseRedirect(change_url)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Move “{study}” to {preflight.phase_label}",
        "study": study,
        "preflight": preflight,
        "form": form,
        "opts": modeladmin.model._meta,
        "movable": PHASE_ORDER.index(phase) > PHASE_ORDER.index(study.phase),
    }
    return TemplateResponse(request, "admin/studies/study/phase.html", context)


def dashboard_view(
    modeladmin: ModelAdmin[Study], request: HttpRequest, study_id: int
) -> HttpResponse:
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Dashboard: {study}",
        "study": study,
        "opts": modeladmin.model._meta,
        "data_url": reverse("admin:studies_study_dashboard_data", args=[study.pk]),
    }
    return TemplateResponse(request, "admin/studies/study/dashboard.html", context)


def dashboard_data(
    modeladmin: ModelAdmin[Study], request: HttpRequest, study_id: int
) -> JsonResponse:
    """The charts' data; the dashboard page polls it, so the figures update by themselves."""
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    return JsonResponse(study_dashboard(study=study))


# The study form's help, in a researcher's words (METHOD.md has the reasoning behind each).
STUDY_HELP: dict[str, str] = {
    "chains_per_song": "Independent chains of turns per song and locale.",
    "max_turns_per_chain": "Turns after which a chain is complete.",
    "turns_per_participant": "Songs each elicitation participant describes.",
    "freeze_min_ratings": "Ratings a tag needs before it can freeze (stay for good).",
    "freeze_min_mean": "Mean rating (1–5, flags as 0) a tag needs to freeze.",
    "hide_flag_count": "Flags that hide a tag from later turns.",
    "complete_frozen_tags": "Frozen tags that complete a chain early.",
    "turn_timeout_seconds": "Time a participant holds a turn before it goes to someone else.",
    "seconds_per_tag_rated": "Time budgeted per tag to rate, for the estimated duration.",
    "seconds_per_new_tag": "Time budgeted per new tag, for the estimated duration.",
    "max_tag_length": "Longest tag a participant may type, in characters.",
    "max_tag_words": "Most words in one tag.",
    "terms_per_locale": "Rating terms to select per locale in curation (the top N by score).",
    "terms_per_participant": "Terms each rating participant sees, drawn from their locale's.",
    "trials_per_participant": "Songs each rating participant rates.",
    "repeat_trials": "Songs shown again at the end, to check consistency.",
    "seconds_per_term": "Time budgeted per term in a trial, for the estimated duration.",
    "adaptive_min_ratings": "Ratings a cell needs before adaptive stopping may retire it.",
    "adaptive_max_standard_error": "Standard error of the mean under which a cell retires.",
    "allocation": "Balanced: least-rated songs first. By information: songs whose open cells "
    "have the widest standard error first; no cell goes over the target either way.",
    "first_response_timeout_minutes": "A session with no answer by then times out.",
    "inactivity_timeout_minutes": "A session silent this long times out.",
    "session_timeout_minutes": "Longest a session may last.",
    "require_recruiter_id": "Refuse entry links without the panel's participant id.",
    "ask_consent": "Show the consent form first.",
    "volume_calibration": "Let participants set a comfortable volume on a noise first.",
    "headphone_check": "Screen out participants who fail the headphone test.",
    "headphone_trials": "Sounds in the headphone test.",
    "headphone_pass_count": "Correct answers needed to pass the headphone test.",
    "vocabulary_check": "Screen out participants who do not know the language's words.",
    "vocabulary_pass_ratio": "Share (0–1) of the vocabulary items to get right.",
    "questionnaire": "Ask the short background questionnaire at the end.",
}
