from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from analysis.crosscultural import figures
from analysis.crosscultural.computation import ANCHOR_FIELDS, PARAM_BOUNDS, AnalysisParams
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.report import report_context
from analysis.crosscultural.selectors import analyses_of
from analysis.crosscultural.services import (
    analysis_params_validate,
    analysis_start,
    prediction_set_import,
)
from moodlab.errors import Invalid
from moodlab.studies.admin_scoping import StudyScopedAdmin
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Study
from moodlab.studies.selectors import studies_visible_to

_DEFAULTS = AnalysisParams()


def _staff_user(request: HttpRequest) -> User:
    # admin_view has let only logged-in staff through.
    return cast(User, request.user)


class AnalysisRunForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.none())
    snapshot_version = forms.CharField(
        required=False, max_length=40, help_text="Empty: the live ratings."
    )
    reliability_threshold = forms.FloatField(
        initial=_DEFAULTS.reliability_threshold,
        **PARAM_BOUNDS["reliability_threshold"].field_kwargs(),
    )
    split_half_repetitions = forms.IntegerField(
        initial=_DEFAULTS.split_half_repetitions,
        **PARAM_BOUNDS["split_half_repetitions"].field_kwargs(),
    )
    seed = forms.IntegerField(initial=_DEFAULTS.seed, **PARAM_BOUNDS["seed"].field_kwargs())

    def __init__(self, *args: Any, studies: QuerySet[Study], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies  # type: ignore[attr-defined]
        for name in ANCHOR_FIELDS:
            self.fields[name] = forms.CharField(
                initial=", ".join(getattr(_DEFAULTS, name)),
                help_text="English glosses, comma-separated.",
                required=False,
            )

    def params(self) -> AnalysisParams:
        data = dict(self.cleaned_data)
        for name in ANCHOR_FIELDS:
            data[name] = [gloss.strip() for gloss in data[name].split(",") if gloss.strip()]
        return analysis_params_validate(data)


@admin.register(CrossCulturalAnalysis)
class CrossCulturalAnalysisAdmin(StudyScopedAdmin):
    list_display = [
        "id",
        "study",
        "source",
        "status",
        "progress_bar",
        "created_at",
        "finished_at",
        "report_link",
    ]
    list_filter = ["study", "status"]
    list_select_related = ["study"]
    readonly_fields = [
        "study",
        "snapshot_version",
        "params_json",
        "status",
        "stage",
        "progress",
        "error",
        "celery_task_id",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "report_link",
    ]
    exclude = ["params", "results"]
    change_list_template = "admin/crosscultural/crossculturalanalysis/change_list.html"
    actions = ["run_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from the "Run an analysis" form, which validates the params

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_run(self, request: HttpRequest) -> bool:
        return request.user.has_perm("crosscultural.add_crossculturalanalysis")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("run/", view(self.run_view), name="crosscultural_analysis_run"),
            path(
                "study/<slug:study_slug>/report/",
                view(self.report_view),
                name="crosscultural_analysis_report",
            ),
            path(
                "<int:pk>/figure/<slug:name>.<str:fmt>",
                view(self.figure_view),
                name="crosscultural_analysis_figure",
            ),
            path("<int:pk>/report.json", view(self.json_view), name="crosscultural_analysis_json"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "may_run": self.may_run(request)}
        return super().changelist_view(request, extra_context=extra)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_run(request):
            raise Http404
        form = AnalysisRunForm(
            request.POST or None, studies=studies_visible_to(request.user), initial=request.GET
        )
        if request.method == "POST" and form.is_valid():
            try:
                analysis = analysis_start(
                    study=form.cleaned_data["study"],
                    params=form.params(),
                    snapshot_version=form.cleaned_data["snapshot_version"].strip(),
                    requested_by=_staff_user(request),
                )
            except Invalid as error:
                for field, problems in error.fields.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                return self._started(request, analysis)
        context = {
            **self.admin_site.each_context(request),
            "title": "Run a cross-cultural analysis",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/crosscultural/run.html", context)

    def _started(self, request: HttpRequest, analysis: CrossCulturalAnalysis) -> HttpResponse:
        """Say what happened: an in-process run has already finished; a worker's is queued."""
        analysis.refresh_from_db()
        Status = CrossCulturalAnalysis.Status  # noqa: N806 - a local alias of the choices
        if analysis.status == Status.SUCCEEDED:
            self.message_user(request, f"The analysis of “{analysis.study}” ran and succeeded.")
            return HttpResponseRedirect(
                reverse("admin:crosscultural_analysis_report", args=[analysis.study.slug])
            )
        if analysis.status == Status.FAILED:
            last_line = (analysis.error.strip().splitlines() or ["no message"])[-1]
            self.message_user(
                request,
                f"The analysis of “{analysis.study}” ran and failed: {last_line}",
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                f"The analysis of “{analysis.study}” is queued for a worker; its progress shows "
                "below.",
            )
        return HttpResponseRedirect(reverse("admin:crosscultural_crossculturalanalysis_changelist"))

    def report_view(self, request: HttpRequest, study_slug: str) -> HttpResponse:
        """A study's report: its latest finished run, or the run ``?analysis=`` names."""
        if not self.has_view_permission(request):
            raise Http404
        study = get_object_or_404(studies_visible_to(request.user), slug=study_slug)
        runs = list(analyses_of(study=study).defer("results"))
        finished = analyses_of(study=study).filter(status=CrossCulturalAnalysis.Status.SUCCEEDED)
        wanted = request.GET.get("analysis")
        analysis = (
            get_object_or_404(finished, pk=wanted)
            if wanted and wanted.isdigit()
            else finished.order_by("-finished_at").first()
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Cross-cultural report: {study.title}",
            "study": study,
            "runs": runs,
            "in_progress": any(
                run.status
                in (CrossCulturalAnalysis.Status.QUEUED, CrossCulturalAnalysis.Status.RUNNING)
                for run in runs
            ),
            "analysis": None,
            "opts": self.model._meta,
        }
        if analysis:

            def figure_url(name: str, fmt: str, download: bool) -> str:
                url = reverse("admin:crosscultural_analysis_figure", args=[analysis.pk, name, fmt])
                return f"{url}?download=1" if download else url

            context |= report_context(
                analysis,
                figure_url=figure_url,
                json_url=reverse("admin:crosscultural_analysis_json", args=[analysis.pk]),
            )
        return TemplateResponse(request, "admin/crosscultural/report.html", context)

    def figure_view(self, request: HttpRequest, pk: int, name: str, fmt: str) -> HttpResponse:
        analysis = self._finished(request, pk)
        if name not in figures.FIGURES or fmt not in figures.FORMATS:
            raise Http404
        content = figures.render(name, analysis.report, fmt=fmt, finished_at=analysis.finished_at)
        response = HttpResponse(content, content_type=figures.FORMATS[fmt])
        if request.GET.get("download"):
            filename = f"{analysis.study.slug}-analysis-{analysis.pk}-{name}.{fmt}"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def json_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        analysis = self._finished(request, pk)
        response = JsonResponse(analysis.results, json_dumps_params={"ensure_ascii": False})
        filename = f"{analysis.study.slug}-analysis-{analysis.pk}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _finished(self, request: HttpRequest, pk: int) -> CrossCulturalAnalysis:
        if not self.has_view_permission(request):
            raise Http404
        return get_object_or_404(
            self.get_queryset(request).filter(status=CrossCulturalAnalysis.Status.SUCCEEDED),
            pk=pk,
        )

    @admin.action(description="Run again with the same parameters")
    def run_again(self, request: HttpRequest, queryset: QuerySet[CrossCulturalAnalysis]) -> None:
        if not self.may_run(request):
            self.message_user(request, "You may not start analyses.", level=messages.ERROR)
            return
        for analysis in queryset:
            analysis_start(
                study=analysis.study,
                params=AnalysisParams.from_dict(analysis.params),
                snapshot_version=analysis.snapshot_version,
                requested_by=_staff_user(request),
            )
        self.message_user(request, f"{queryset.count()} analysis(es) queued.")

    @admin.display(description="Source")
    def source(self, analysis: CrossCulturalAnalysis) -> str:
        return analysis.source_label

    @admin.display(description="Progress")
    def progress_bar(self, analysis: CrossCulturalAnalysis) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}',
            analysis.progress,
            analysis.stage or analysis.get_status_display(),
        )

    @admin.display(description="Parameters")
    def params_json(self, analysis: CrossCulturalAnalysis) -> str:
        return format_html("<pre>{}</pre>", json.dumps(analysis.params, indent=2))

    @admin.display(description="Report")
    def report_link(self, analysis: CrossCulturalAnalysis) -> str:
        if analysis.status != CrossCulturalAnalysis.Status.SUCCEEDED:
            return "—"
        url = reverse("admin:crosscultural_analysis_report", args=[analysis.study.slug])
        return format_html('<a href="{}?analysis={}">Report</a>', url, analysis.pk)


class PredictionUploadForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.none())
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    csv_file = forms.FileField(
        label="Predictions (CSV)",
        help_text="Columns: song (external id), locale, term (key or label), score.",
    )

    def __init__(self, *args: Any, studies: QuerySet[Study], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies  # type: ignore[attr-defined]


@admin.register(PredictionSet)
class PredictionSetAdmin(StudyScopedAdmin):
    list_display = ["name", "study", "row_count", "uploaded_by", "created_at"]
    list_filter = ["study"]
    list_select_related = ["study", "uploaded_by"]
    readonly_fields = ["study", "name", "row_count", "uploaded_by", "created_at"]
    fields = [*readonly_fields, "description"]
    change_list_template = "admin/crosscultural/predictionset/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sets arrive through the upload form, which checks every row

    def may_upload(self, request: HttpRequest) -> bool:
        return request.user.has_perm("crosscultural.add_predictionset")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "may_upload": self.may_upload(request)}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="crosscultural_predictionset_upload",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_upload(request):
            raise Http404
        form = PredictionUploadForm(
            request.POST or None, request.FILES or None, studies=studies_visible_to(request.user)
        )
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                prediction_set, report = prediction_set_import(
                    study=form.cleaned_data["study"],
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    csv_source=form.cleaned_data["csv_file"],
                    uploaded_by=_staff_user(request),
                )
            except ImportFailed as failure:
                report = failure.report
                self.message_user(request, report.summary(), level=messages.ERROR)
            else:
                self.message_user(request, f"{prediction_set}: {report.summary()}")
                return HttpResponseRedirect(reverse("admin:crosscultural_predictionset_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload model predictions",
            "form": form,
            "report": report,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/crosscultural/upload.html", context)
