"""Researchers watch chains fill and curate each locale's terms; every change calls a service."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from elicitation.admin_curation import curation_view
from elicitation.export import CHAIN_EXPORT_COLUMNS, chain_export_rows
from elicitation.models import Chain, ChainTag, CurationTerm
from elicitation.services.curation import (
    MergeOutcome,
    term_rename,
    term_set_excluded,
    term_set_selected,
    term_split,
    terms_check_unfrozen,
    terms_merge,
    terms_recompute,
    terms_select_top,
)
from moodlab.errors import DomainError
from moodlab.studies.admin_scoping import ReadOnlyAdminMixin, StudyScopedAdmin
from moodlab.studies.csv_safety import write_safe_csv
from moodlab.studies.models import Study, StudyLocale, Term, label_field_of
from moodlab.studies.selectors import studies_visible_to


class ChainTagInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ChainTag
    readonly_fields = ("text", "key", "state", "ratings_count", "mean", "flag_count", "created_at")
    fields = readonly_fields
    extra = 0

    @admin.display(description="mean (flags as 0)")
    def mean(self, tag: ChainTag) -> str:
        return "—" if tag.mean_rating is None else f"{tag.mean_rating:.2f}"


@admin.register(Chain)
class ChainAdmin(ReadOnlyAdminMixin, StudyScopedAdmin):
    """Chain monitoring: read-only, since chains change only through participants' turns."""

    list_display = ["__str__", "study", "status", "progress", "tag_list", "held_until"]
    change_list_template = "admin/elicitation/chain/change_list.html"
    list_filter = ["status", "locale__code", "study"]
    list_select_related = ["study", "locale", "song"]
    search_fields = ["song__external_id", "song__title"]
    inlines = [ChainTagInline]
    readonly_fields = [
        "study",
        "locale",
        "song",
        "index",
        "status",
        "turns_done",
        "held_by",
        "held_until",
        "created_at",
        "completed_at",
        "timeline",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Chain]:
        return super().get_queryset(request).prefetch_related("tags")

    def get_urls(self) -> list[Any]:
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="elicitation_chain_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The admin path of `export_chains`: one row per tag per turn, as CSV."""
        studies = studies_visible_to(request.user).order_by("title")
        form = ChainExportForm(
            request.GET if "study" in request.GET else None,
            studies=studies,
            initial={"study": request.GET.get("study__id__exact")},
        )
        if form.is_valid():
            study = form.cleaned_data["study"]
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{study.slug}-chains.csv"'
            write_safe_csv(
                chain_export_rows(study=study),
                fieldnames=CHAIN_EXPORT_COLUMNS,
                out=response,  # type: ignore[arg-type]  # a file-like object with write()
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": "Export chains (CSV)",
            "intro": "One row per tag per turn of every submitted turn, as the reference "
            "release has it; participants appear by their public id only.",
            "form": form,
            "opts": self.model._meta,
            "changelist_url": reverse("admin:elicitation_chain_changelist"),
            "submit_label": "Download CSV",
            "method": "get",
        }
        return TemplateResponse(request, "admin/elicitation/chain/export.html", context)

    @admin.display(description="turns done")
    def progress(self, chain: Chain) -> str:
        return f"{chain.turns_done} of {chain.study.max_turns_per_chain} turns"

    @admin.display(description="Turns, in order")
    def timeline(self, chain: Chain) -> str:
        """Each turn: when, whose, how long, the tags rated and the tags added."""
        turns = chain.turns.select_related("participant").prefetch_related(
            "ratings__chain_tag", "additions"
        )
        items = []
        for turn in turns.order_by("index", "started_at"):
            rated = ", ".join(
                f"{r.chain_tag.text} {'flagged' if r.flagged else f'{r.value}★'}"
                for r in turn.ratings.all()
            )
            added = ", ".join(addition.text for addition in turn.additions.all())
            took = (
                f", {(turn.submitted_at - turn.started_at).total_seconds():.0f} s"
                if turn.submitted_at
                else ""
            )
            items.append(
                (
                    f"Turn {turn.index + 1} · {turn.get_status_display()}{took} · "
                    f"{turn.started_at:%Y-%m-%d %H:%M:%S}",
                    rated or "—",
                    added or "—",
                )
            )
        if not items:
            return "No turn yet."
        return format_html(
            '<ol class="moodlab-timeline">{}</ol>',
            format_html_join(
                "",
                "<li><strong>{}</strong><br>Rated: {}<br>Added: {}</li>",
                items,
            ),
        )

    @admin.display(description="tags")
    def tag_list(self, chain: Chain) -> str:
        return format_html_join(
            ", ", "<span title='{}'>{}</span>", ((t.state, t.text) for t in chain.tags.all())
        )


class ChainExportForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.none())

    def __init__(self, *args: Any, studies: QuerySet[Study], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies  # type: ignore[attr-defined]


class CurationTermForm(forms.ModelForm):
    """Rename a term or gloss it in English; refused once the locale's terms are frozen."""

    label_text = forms.CharField(max_length=100, label="Label (in the locale's language)")
    gloss = forms.CharField(max_length=100, required=False, label="English gloss")

    class Meta:
        model = CurationTerm
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["label_text"].initial = getattr(
                self.instance, label_field_of(self.instance.locale)
            )
            self.fields["gloss"].initial = self.instance.label_en

    def clean(self) -> dict[str, Any]:
        try:
            terms_check_unfrozen(locale=self.instance.locale)
        except DomainError as refusal:
            raise ValidationError(refusal.messages) from refusal
        return super().clean() or {}


def _each_term(
    service: Callable[..., object], done: str, **arguments: object
) -> Callable[[Any, HttpRequest, QuerySet[Term]], None]:
    def action(modeladmin: CurationTermAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for term in queryset.select_related("locale"):
            modeladmin.run(request, partial(service, term=term, **arguments), done)

    action.__name__ = f"{service.__name__}_{'_'.join(str(v) for v in arguments.values())}"
    return action


@admin.register(CurationTerm)
class CurationTermAdmin(StudyScopedAdmin):
    """One locale's term table: recompute, merge, split, rename, exclude, select the top N."""

    study_path = "locale__study"
    form = CurationTermForm
    change_list_template = "admin/elicitation/curationterm/change_list.html"
    list_display = [
        "key",
        "locale",
        "label_in_locale",
        "label_en",
        "frequency",
        "mean",
        "score_display",
        "chain_count",
        "song_count",
        "merged_keys",
        "is_selected",
        "is_excluded",
        "rank",
    ]
    list_filter = ["locale__study", "locale__code", "is_selected", "is_excluded"]
    list_select_related = ["locale", "locale__study"]
    search_fields = ["key", "label"]
    readonly_fields = ["locale", "key", "frequency", "mean", "score_display", "merged_keys"]
    fields = ["locale", "key", "label_text", "gloss", *readonly_fields[2:]]
    actions = [
        "merge_selected",
        "split_selected",
        admin.action(description="Exclude the selected terms")(
            _each_term(term_set_excluded, "excluded", excluded=True)
        ),
        admin.action(description="Include the selected terms again")(
            _each_term(term_set_excluded, "included", excluded=False)
        ),
        admin.action(description="Select as rating terms")(
            _each_term(term_set_selected, "selected", selected=True)
        ),
        admin.action(description="Deselect as rating terms")(
            _each_term(term_set_selected, "deselected", selected=False)
        ),
        "select_top_terms",
        "recompute_locales",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Term]:
        return super().get_queryset(request).prefetch_related("aliases")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def run(
        self, request: HttpRequest, call: Callable[[], Any], done: str | Callable[[Any], str]
    ) -> None:
        """Call a curation service and report its outcome (`done`, or `done` of its result),
        or why it was refused."""
        try:
            result = call()
        except DomainError as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return
        self.message_user(request, done(result) if callable(done) else done)

    @admin.display(description="label")
    def label_in_locale(self, term: Term) -> str:
        return getattr(term, label_field_of(term.locale)) or ""

    @admin.display(description="mean rating", ordering="mean_rating")
    def mean(self, term: Term) -> str:
        return "—" if term.mean_rating is None else f"{term.mean_rating:.2f}"

    @admin.display(description="score", ordering="score")
    def score_display(self, term: Term) -> str:
        return f"{term.score:.1f}"

    @admin.display(description="merged keys")
    def merged_keys(self, term: Term) -> str:
        return ", ".join(sorted(alias.key for alias in term.aliases.all()))

    def save_model(self, request: HttpRequest, obj: Term, form: forms.Form, change: bool) -> None:
        term_rename(
            term=obj, label=form.cleaned_data["label_text"], gloss=form.cleaned_data["gloss"]
        )

    @admin.action(
        description="Merge the selected terms (into the best scored)", permissions=["change"]
    )
    def merge_selected(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        terms = list(queryset.select_related("locale").order_by("pk"))
        merge = partial(terms_merge, locale=terms[0].locale, term_ids=[term.pk for term in terms])
        self.run(request, merge, MergeOutcome.describe)

    @admin.action(
        description="Split the selected terms into their merged keys", permissions=["change"]
    )
    def split_selected(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        for term in queryset.select_related("locale"):
            self.run(request, partial(term_split, term=term), f"Split {term.key}.")

    @admin.action(
        description="Select the top N by score in these terms' locales", permissions=["change"]
    )
    def select_top_terms(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        for locale in self._locales_of(queryset):
            self.run(
                request,
                partial(terms_select_top, locale=locale),
                f"Terms of {locale.code}: the top {locale.study.terms_per_locale} by score "
                "selected (or all there were). Choose another number on the study's curation "
                "page.",
            )

    @admin.action(
        description="Recompute these terms' locales from the chains", permissions=["change"]
    )
    def recompute_locales(self, request: HttpRequest, queryset: QuerySet[Term]) -> None:
        for locale in self._locales_of(queryset):
            self.run(request, partial(terms_recompute, locale=locale), f"{locale}: done.")

    @staticmethod
    def _locales_of(queryset: QuerySet[Term]) -> QuerySet[StudyLocale]:
        return StudyLocale.objects.filter(pk__in=queryset.values("locale_id")).select_related(
            "study"
        )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "study/<int:study_id>/",
                self.admin_site.admin_view(partial(curation_view, self)),
                name="elicitation_curationterm_study",
            ),
            path(
                "recompute/<int:locale_id>/",
                self.admin_site.admin_view(self.recompute_view),
                name="elicitation_curationterm_recompute",
            ),
            *super().get_urls(),
        ]

    def recompute_view(self, request: HttpRequest, locale_id: int) -> HttpResponse:
        """Build a locale's term table for the first time (no term exists yet to act on)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        if not self.has_change_permission(request):
            raise PermissionDenied
        locale = get_object_or_404(
            StudyLocale.objects.select_related("study"),
            pk=locale_id,
            study__in=studies_visible_to(request.user),
        )
        self.run(request, partial(terms_recompute, locale=locale), f"{locale}: recomputed.")
        changelist = reverse("admin:elicitation_curationterm_changelist")
        return HttpResponseRedirect(
            f"{changelist}?locale__study__id__exact={locale.study_id}"
            f"&locale__code__exact={locale.code}"
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        studies = studies_visible_to(request.user).order_by("title")
        context = {**(extra_context or {}), "curation_studies": studies}
        return super().changelist_view(request, extra_context=context)
