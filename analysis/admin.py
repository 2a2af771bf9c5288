from __future__ import annotations

import json
from typing import Any, TypedDict, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_celery_results.models import TaskResult
from django_stubs_ext import WithAnnotations

from analysis.models import (
    CellAggregate,
    ExclusionDecision,
    JobOutcome,
    JobRun,
    QualityResult,
    QualityRuleSetting,
    Snapshot,
    SnapshotAccessGrant,
    StudyJobs,
)
from analysis.services.jobs import job_request
from analysis.services.quality import RULES, exclusion_override
from analysis.services.snapshots import snapshot_set_published
from analysis.services.tokens import snapshot_access_grant
from moodlab.errors import DomainError, Invalid
from moodlab.studies.admin_scoping import (
    NoAddNoDeleteAdminMixin,
    ReadOnlyAdminMixin,
    StudyScopedAdmin,
)
from moodlab.studies.models import Participant
from moodlab.wording import plural
from rating.admin import TrialInline
from rating.models import RatingParticipant


def _rule_title(name: str) -> str:
    """A quality rule as researchers know it: its title, not its code."""
    rule = RULES.get(name)
    return rule.title if rule else name


def _task_field(name: str) -> Subquery:
    return Subquery(TaskResult.objects.filter(task_id=OuterRef("task_id")).values(name)[:1])


def _with_task_state(runs: QuerySet[JobRun]) -> QuerySet[JobRun]:
    """Join Celery's TaskResult (same task id) in the query, not one lookup per row."""
    return runs.annotate(
        state=_task_field("status"),
        result=_task_field("result"),
        started=_task_field("date_started"),
        done=_task_field("date_done"),
        traceback=_task_field("traceback"),
    )


# How the admin names Celery's states: what happened, in a researcher's words.
STATE_WORDS = {
    "PENDING": "queued, waiting for a worker",
    "RECEIVED": "queued, waiting for a worker",
    "STARTED": "running",
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "RETRY": "failed, will retry",
    "REVOKED": "cancelled",
}
# Result keys worth showing, with their labels; ids are left out.
COUNT_LABELS = {
    "cells": "cells",
    "checked": "participants checked",
    "excluded": "excluded",
    "version": "snapshot version",
    "rows": "rows",
    "ratings": "ratings",
}


def _describe(run: JobRun) -> str:
    if run.outcome and run.outcome != JobOutcome.SUCCEEDED:
        # Finished without an error but with nothing useful (or too much excluded): say why.
        return f"{run.get_outcome_display().lower()}: {' '.join(run.problems)}"
    if not run.state and run.queued_at is None:  # type: ignore[attr-defined]
        return "waiting for the broker"  # the sweeper sends it once Redis answers
    state = run.state or "PENDING"  # type: ignore[attr-defined]
    if state == "PROGRESS":
        percent = _result(run).get("percent", 0)
        return f"running, {percent:.0f}%"
    return STATE_WORDS.get(state, state.lower())


def _result(run: JobRun) -> dict[str, Any]:
    try:
        value = json.loads(run.result or "{}")  # type: ignore[attr-defined]
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _counts(run: JobRun) -> str:
    result = _result(run)
    if run.state != "SUCCESS":  # type: ignore[attr-defined]
        return ""
    return ", ".join(
        f"{label}: {result[key]:,}" if isinstance(result[key], int) else f"{label}: {result[key]}"
        for key, label in COUNT_LABELS.items()
        if key in result
    )


def _error_line(run: JobRun) -> str:
    """The last line of a failed job's traceback: the exception and its message."""
    traceback = (run.traceback or "").strip()  # type: ignore[attr-defined]
    return traceback.splitlines()[-1] if traceback else ""


def _duration(run: JobRun) -> str:
    """How long the job ran; before a worker reports its start, how long it has waited."""
    started, done = run.started, run.done  # type: ignore[attr-defined]
    if done:
        seconds = (done - (started or run.requested_at)).total_seconds()
        return f"{max(seconds, 0):.1f} s"
    if started:
        return f"running for {(timezone.now() - started).total_seconds():.0f} s"
    return f"waiting for {(timezone.now() - run.requested_at).total_seconds():.0f} s"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
    # Progress shows in the status while a job runs ("running, 45%"); a failure's error too.
    list_display = ["kind", "study", "requested_at", "status", "duration", "counts"]
    list_filter = ["kind", "study"]
    list_select_related = ["study", "requested_by"]
    readonly_fields = ["study", "kind", "task_id", "requested_by", "requested_at", "queued_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobRun]:
        return _with_task_state(super().get_queryset(request))

    @admin.display(description="Status")
    def status(self, run: JobRun) -> str:
        error = _error_line(run)
        return f"{_describe(run)}: {error}" if error else _describe(run)

    @admin.display(description="Duration")
    def duration(self, run: JobRun) -> str:
        return _duration(run)

    @admin.display(description="Counts")
    def counts(self, run: JobRun) -> str:
        return _counts(run) or "–"


def _outcome(job: JobRun, label: str, study: Any) -> tuple[str, int]:
    """What the admin says after a job request: it ran (in-process) or it was queued."""
    run = _with_task_state(JobRun.objects.filter(pk=job.pk)).get()
    state = run.state  # type: ignore[attr-defined]
    if state == "SUCCESS" and run.outcome and run.outcome != JobOutcome.SUCCEEDED:
        # Finished without an error but with nothing useful (or too much excluded): say why.
        level = messages.ERROR if run.outcome == JobOutcome.FAILED else messages.WARNING
        return f"{label} ran for “{study}”: {_describe(run)}", level
    if state == "SUCCESS":
        counts = _counts(run)
        return (
            f"{label} ran for “{study}”: succeeded{f' ({counts})' if counts else ''}.",
            messages.SUCCESS,
        )
    if state == "FAILURE":
        return (
            f"{label} ran for “{study}” and failed: {_error_line(run) or 'see Job runs'}",
            messages.ERROR,
        )
    if run.queued_at is None:
        return (
            f"{label} for “{study}” is recorded but not sent: the broker is unreachable; it "
            "is sent as soon as it answers.",
            messages.WARNING,
        )
    return (
        f"{label} for “{study}” is queued for a worker: follow it under Job runs.",
        messages.INFO,
    )


def _job_action(kind: str, label: str) -> Any:
    def action(modeladmin: StudyJobsAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for study in queryset:
            try:
                job = job_request(study_id=study.pk, kind=kind, user=request.user)
            except Exception as error:
                modeladmin.message_user(
                    request, f"{label} ran for “{study}” and failed: {error}", messages.ERROR
                )
                continue
            message, level = _outcome(job, label, study)
            modeladmin.message_user(request, message, level)

    action.__name__ = f"run_{kind}"
    return admin.action(description=f"Run: {label}")(action)


@admin.register(StudyJobs)
class StudyJobsAdmin(NoAddNoDeleteAdminMixin, StudyScopedAdmin):
    """Select studies and run a job; each job's latest state and progress shows per row."""

    study_path = ""
    list_display = ["title", "slug", "phase", "aggregate", "quality", "export"]
    search_fields = ["slug", "title"]
    actions = [_job_action(kind.value, str(kind.label)) for kind in JobRun.Kind]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        prefetches = [
            Prefetch(
                "job_runs",
                queryset=_with_task_state(JobRun.objects.filter(kind=kind))[:1],
                to_attr=f"latest_{kind}",
            )
            for kind in JobRun.Kind.values
        ]
        return super().get_queryset(request).prefetch_related(*prefetches)

    def _latest(self, study: Any, kind: str) -> str:
        runs = getattr(study, f"latest_{kind}")
        if not runs:
            return "never run"
        return f"{_describe(runs[0])} ({runs[0].requested_at:%Y-%m-%d %H:%M})"

    @admin.display(description="Aggregation")
    def aggregate(self, study: Any) -> str:
        return self._latest(study, JobRun.Kind.AGGREGATE)

    @admin.display(description="Quality control")
    def quality(self, study: Any) -> str:
        return self._latest(study, JobRun.Kind.QUALITY)

    @admin.display(description="Snapshot export")
    def export(self, study: Any) -> str:
        return self._latest(study, JobRun.Kind.EXPORT)


@admin.register(Snapshot)
class SnapshotAdmin(NoAddNoDeleteAdminMixin, StudyScopedAdmin):
    """Snapshots are immutable: withdraw one instead of deleting it."""

    list_display = ["study", "version", "status", "published", "created_at", "file_count"]
    list_filter = ["status", "published", "study"]
    list_select_related = ["study"]
    readonly_fields = [
        *(f.name for f in Snapshot._meta.fields if f.name != "manifest"),
        "downloads",
        "manifest_summary",
    ]
    exclude = ["manifest"]
    actions = ["publish", "withdraw"]

    @admin.display(description="Files")
    def file_count(self, snapshot: Snapshot) -> str:
        """The list says how many; the snapshot's page links each file."""
        files = (snapshot.manifest or {}).get("files", {})
        return f"{len(files) + 1} files" if snapshot.status == Snapshot.Status.COMPLETE else "–"

    @admin.display(description="Manifest")
    def manifest_summary(self, snapshot: Snapshot) -> str:
        """The manifest as a table of files (rows, checksum) and its other entries, not JSON."""
        manifest = snapshot.manifest or {}
        files = manifest.get("files", {})
        tables = manifest.get("tables", {})

        def rows_of(name: str) -> str:
            table = tables.get(name.rsplit(".", 1)[0])
            rows = table.get("rows") if isinstance(table, dict) else None
            return f"{rows:,}" if isinstance(rows, int) else ""

        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    name,
                    rows_of(name),
                    f"{info.get('bytes', 0):,}" if isinstance(info, dict) else "",
                    (info.get("sha256", "") if isinstance(info, dict) else "")[:16],
                )
                for name, info in sorted(files.items())
            ),
        )
        others = format_html_join(
            "",
            "<li>{}: {}</li>",
            (
                (
                    key.replace("_", " "),
                    value if not isinstance(value, (dict, list)) else f"{len(value)} entries",
                )
                for key, value in sorted(manifest.items())
                if key not in ("files", "tables")
            ),
        )
        return format_html(
            '<table><thead><tr><th scope="col">File</th><th scope="col">Rows</th>'
            '<th scope="col">Bytes</th>'
            '<th scope="col">SHA-256 (start)</th></tr></thead><tbody>{}</tbody></table><ul>{}</ul>',
            rows,
            others,
        )

    @admin.display(description="Files")
    def downloads(self, snapshot: Snapshot) -> str:
        if snapshot.status != Snapshot.Status.COMPLETE:
            return "–"
        names = ["manifest.json", *sorted(snapshot.manifest.get("files", {}))]
        links = (
            (
                reverse(
                    "v1:snapshot-file",
                    kwargs={
                        "study_slug": snapshot.study.slug,
                        "version": snapshot.version,
                        "file_name": name,
                    },
                ),
                name,
            )
            for name in names
        )
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def _set_published(
        self, request: HttpRequest, queryset: QuerySet[Snapshot], value: bool
    ) -> None:
        for snapshot in queryset:
            try:
                snapshot_set_published(snapshot_id=snapshot.pk, published=value)
            except DomainError as error:
                self.message_user(request, f"{snapshot}: {error}", messages.ERROR)
            else:
                done = "published to everyone" if value else "withdrawn from publication"
                self.message_user(request, f"{snapshot}: {done}.")

    @admin.action(description="Publish to everyone")
    def publish(self, request: HttpRequest, queryset: QuerySet[Snapshot]) -> None:
        self._set_published(request, queryset, True)

    @admin.action(description="Withdraw publication")
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Snapshot]) -> None:
        self._set_published(request, queryset, False)


@admin.register(CellAggregate)
class CellAggregateAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
    list_display = ["study", "locale", "song", "term", "n", "mean", "sd", "median", "sem"]
    list_filter = ["study", "locale"]
    list_select_related = ["study", "locale", "song", "term"]
    search_fields = ["song__external_id", "term__key"]


class QualityRuleSettingForm(forms.ModelForm):
    rule = forms.ChoiceField(choices=[(name, rule.title) for name, rule in RULES.items()])

    class Meta:
        model = QualityRuleSetting
        fields = ["study", "rule", "enabled", "params"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("rule") in RULES and isinstance(data.get("params"), dict):
            try:
                RULES[data["rule"]].params_with(data["params"])
            except Invalid as error:
                raise ValidationError(error.fields) from error
        return data


@admin.register(QualityRuleSetting)
class QualityRuleSettingAdmin(StudyScopedAdmin):
    form = QualityRuleSettingForm
    list_display = ["study", "rule_title", "enabled", "params", "defaults"]
    list_filter = ["study", "rule", "enabled"]
    list_select_related = ["study"]

    @admin.display(description="Rule", ordering="rule")
    def rule_title(self, setting: QualityRuleSetting) -> str:
        return _rule_title(setting.rule)

    @admin.display(description="Default parameters")
    def defaults(self, setting: QualityRuleSetting) -> str:
        rule = RULES.get(setting.rule)
        if rule is None:
            return "unknown rule"
        return ", ".join(f"{name} = {value:g}" for name, value in rule.defaults.items()) or "none"


@admin.register(QualityResult)
class QualityResultAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
    study_path = "run__study"
    list_display = ["participant", "rule_title", "version", "passed", "rounded_value", "run"]
    list_filter = ["rule", "passed", "run__study"]
    list_select_related = ["participant", "run"]
    readonly_fields = [
        "run",
        "participant",
        "rule",
        "version",
        "params",
        "passed",
        "value",
        "evidence",
    ]

    @admin.display(description="Rule", ordering="rule")
    def rule_title(self, result: QualityResult) -> str:
        return _rule_title(result.rule)

    @admin.display(description="Value", ordering="value")
    def rounded_value(self, result: QualityResult) -> str:
        return "—" if result.value is None else f"{result.value:.3g}"


class ExclusionOverrideForm(forms.ModelForm):
    class Meta:
        model = ExclusionDecision
        fields = ["override", "override_reason"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("override") and not data.get("override_reason", "").strip():
            self.add_error("override_reason", "Say why you override the rules.")
        return data


@admin.register(ExclusionDecision)
class ExclusionDecisionAdmin(NoAddNoDeleteAdminMixin, StudyScopedAdmin):
    """The rules' verdict is read-only; a researcher sets an override with a reason."""

    form = ExclusionOverrideForm
    list_display = [
        "participant",
        "study",
        "excluded",
        "rules_excluded",
        "override",
        "overridden_by",
        "overridden_at",
        "rule_names",
    ]
    list_filter = ["study", "excluded", "rules_excluded", "override"]
    list_select_related = ["participant", "study", "overridden_by"]
    fields = [
        "participant",
        "study",
        "excluded",
        "rules_excluded",
        "reasons_list",
        "run",
        "decided_at",
        "override",
        "override_reason",
        "overridden_by",
        "overridden_at",
    ]
    readonly_fields = [
        "participant",
        "study",
        "excluded",
        "rules_excluded",
        "reasons_list",
        "run",
        "decided_at",
        "overridden_by",
        "overridden_at",
    ]

    @admin.display(description="Failed rules")
    def rule_names(self, decision: ExclusionDecision) -> str:
        return "; ".join(_rule_title(reason["rule"]) for reason in decision.reasons) or "—"

    @admin.display(description="Why excluded")
    def reasons_list(self, decision: ExclusionDecision) -> str:
        if not decision.reasons:
            return "No rule failed."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} (rule version {})</li>",
                (
                    (reason.get("reason") or _rule_title(reason["rule"]), reason.get("version"))
                    for reason in decision.reasons
                ),
            ),
        )

    def save_model(
        self, request: HttpRequest, obj: ExclusionDecision, form: Any, change: bool
    ) -> None:
        exclusion_override(
            participant_id=obj.participant_id,
            override=obj.override,
            reason=obj.override_reason,
            user=request.user,  # type: ignore[arg-type]
        )


@admin.register(SnapshotAccessGrant)
class SnapshotAccessGrantAdmin(StudyScopedAdmin):
    list_display = ["study", "user", "granted_by", "granted_at", "note"]
    list_select_related = ["study", "user", "granted_by"]
    readonly_fields = ["granted_by", "granted_at"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: SnapshotAccessGrant | None = None
    ) -> list[str]:
        # Another study or user is another grant: only the note of a grant is edited.
        return [*self.readonly_fields, "study", "user"] if obj else list(self.readonly_fields)

    def save_model(
        self, request: HttpRequest, obj: SnapshotAccessGrant, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        grant = snapshot_access_grant(
            study=obj.study,
            user=obj.user,
            granted_by=cast(User, request.user),  # admin_view lets only staff through
            note=obj.note,
        )
        obj.pk, obj.granted_by, obj.granted_at = grant.pk, grant.granted_by, grant.granted_at


class _TrialsDone(TypedDict):
    trials_done: int


class ExcludeForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Kept with the participant's record.")


@admin.register(RatingParticipant)
class RatingParticipantAdmin(NoAddNoDeleteAdminMixin, StudyScopedAdmin[RatingParticipant]):
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[RatingParticipant]:
        return (
            super()
            .get_queryset(request)
            .filter(phase=Participant.Phase.RATING)
            .select_related("exclusion__overridden_by")
            .annotate(trials_done=Count("trials"))
        )

    @admin.display(description="trials", ordering="trials_done")
    def trial_count(self, participant: WithAnnotations[RatingParticipant, _TrialsDone]) -> int:
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
            _rule_title(reason["rule"]) for reason in decision.reasons
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
