from __future__ import annotations

import zipfile
from functools import partial
from typing import Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.db.models import CharField, Count, QuerySet, Value
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_stubs_ext import WithAnnotations
from modeltranslation.admin import TranslationAdmin

from moodlab.studies import admin_views
from moodlab.studies.admin_scoping import StudyScopedAdmin
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.entry_links import entry_link
from moodlab.studies.models import (
    Participant,
    PrescreenResult,
    QuestionnaireResponse,
    RecruiterIdentity,
    Song,
    Study,
    StudyLocale,
    Term,
)
from moodlab.studies.selectors import song_queryset_with_audio_failures, studies_visible_to
from moodlab.studies.services.song_audio import (
    song_audio_probe,
    song_audio_store,
    song_audio_url,
    study_audio_redeliver,
)
from moodlab.studies.services.song_import import AudioZip, songs_import
from moodlab.studies.services.studies import study_add_reference_locales
from moodlab.studies.services.term_import import terms_import
from moodlab.wording import plural


class _StudyTotals(TypedDict):
    song_total: int
    participant_total: int


class _SongFailures(TypedDict):
    audio_failures: int


def _site_origin(request: HttpRequest) -> Value:
    """The site's origin, carried on each row (`site_origin`) so its entry link is absolute."""
    return Value(request.build_absolute_uri("/"), output_field=CharField())


def _copyable(link: str) -> str:
    return format_html(
        '<input type="text" readonly size="90" value="{}" aria-label="Entry link">', link
    )


class StudyLocaleInline(admin.StackedInline[StudyLocale, Study]):
    model = StudyLocale
    extra = 0
    fields = [
        ("code", "name", "direction", "is_active"),
        "recruiter_id_param",
        "entry_link",
        ("completion_url", "completion_code"),
        ("screenout_url", "screenout_code"),
        ("no_places_url", "no_places_code"),
        ("recruitment_closed_at", "recruitment_closed_reason"),
        "consent_text",
        "vocabulary_items",
        "terms_frozen_at",
    ]
    # Closure is recorded by the entry link and the allocation; clearing the date reopens.
    readonly_fields = ["entry_link", "terms_frozen_at", "recruitment_closed_reason"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StudyLocale]:
        return (
            super()
            .get_queryset(request)
            .select_related("study")
            .annotate(site_origin=_site_origin(request))
        )

    @admin.display(description="Entry link for the panel")
    def entry_link(self, locale: StudyLocale) -> str:
        if locale.pk is None:
            return "Shown once the locale is saved."
        return _copyable(entry_link(locale, origin=locale.site_origin))  # type: ignore[attr-defined]


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin[Study]):
    study_path = ""
    list_display = ["title", "slug", "phase", "locale_codes", "song_count", "participant_count"]
    list_filter = ["phase"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["researchers"]
    readonly_fields = ["phase", "entry_links", "created_at", "updated_at"]
    inlines = [StudyLocaleInline]
    # Phase moves are buttons of the study page's stepper, each through its pre-flight page.
    actions = ["add_reference_locales"]
    change_form_template = "admin/studies/study/change_form.html"
    fieldsets = [
        (
            None,
            {"fields": ["title", "slug", "description", "phase", "researchers", "entry_links"]},
        ),
        (
            "Elicitation (iterative tag chains)",
            {
                "fields": [
                    ("chains_per_song", "max_turns_per_chain", "turns_per_participant"),
                    ("freeze_min_ratings", "freeze_min_mean"),
                    ("hide_flag_count", "complete_frozen_tags"),
                    ("turn_timeout_seconds", "seconds_per_tag_rated", "seconds_per_new_tag"),
                    ("max_tag_length", "max_tag_words"),
                ]
            },
        ),
        (
            "Publication (licence and citation of the snapshots)",
            {"fields": ["licence", ("citation_title", "citation_year", "doi"), "citation_authors"]},
        ),
        ("Term curation", {"fields": ["terms_per_locale"]}),
        (
            "Rating",
            {
                "fields": [
                    ("terms_per_participant", "trials_per_participant", "repeat_trials"),
                    ("target_ratings_per_cell", "seconds_per_term"),
                    ("adaptive_stopping", "adaptive_min_ratings", "adaptive_max_standard_error"),
                    "allocation",
                    "max_excluded_share",
                ]
            },
        ),
        (
            "Sessions and prescreens",
            {
                "fields": [
                    (
                        "first_response_timeout_minutes",
                        "inactivity_timeout_minutes",
                        "session_timeout_minutes",
                    ),
                    "require_recruiter_id",
                    ("ask_consent", "volume_calibration", "questionnaire"),
                    ("headphone_check", "headphone_trials", "headphone_pass_count"),
                    ("vocabulary_check", "vocabulary_pass_ratio"),
                ]
            },
        ),
        ("Audio", {"fields": [("audio_target_lufs", "audio_public")]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Study, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "audio_target_lufs" in form.changed_data:
            count = study_audio_redeliver(study=obj)
            self.message_user(request, f"{count} song(s) are being re-encoded at the new level.")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("locales")
            .annotate(
                song_total=Count("songs", distinct=True),
                participant_total=Count("participants", distinct=True),
                site_origin=_site_origin(request),
            )
        )

    def get_urls(self) -> list[Any]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(partial(function, self))

        return [
            path(
                "<int:study_id>/phase/<str:phase>/",
                view(admin_views.phase_view),
                name="studies_study_phase",
            ),
            path(
                "<int:study_id>/dashboard/",
                view(admin_views.dashboard_view),
                name="studies_study_dashboard",
            ),
            path(
                "<int:study_id>/dashboard.json",
                view(admin_views.dashboard_data),
                name="studies_study_dashboard_data",
            ),
            *super().get_urls(),
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["help_texts"] = {**admin_views.STUDY_HELP, **kwargs.get("help_texts", {})}
        return super().get_form(request, obj, change, **kwargs)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        study = self.get_object(request, object_id)
        hub = admin_views.hub_context(study) if study is not None else {}
        return super().change_view(
            request, object_id, form_url, extra_context={**(extra_context or {}), **hub}
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.researchers.add(request.user)  # whoever creates a study can see it

    @admin.display(description="Locales")
    def locale_codes(self, study: Study) -> str:
        return ", ".join(locale.code for locale in study.locales.all())

    @admin.display(description="Entry links (active locales)")
    def entry_links(self, study: Study) -> str:
        active = [locale for locale in study.locales.all() if locale.is_active] if study.pk else []
        if not active:
            return "Add an active locale to get its entry link."
        origin = study.site_origin  # type: ignore[attr-defined]
        return format_html_join(
            "",
            "<p><strong>{}</strong><br>{}</p>",
            ((locale.code, _copyable(entry_link(locale, origin=origin))) for locale in active),
        )

    @admin.display(description="Songs", ordering="song_total")
    def song_count(self, study: WithAnnotations[Study, _StudyTotals]) -> int:
        return study.song_total

    @admin.display(description="Participants", ordering="participant_total")
    def participant_count(self, study: WithAnnotations[Study, _StudyTotals]) -> int:
        return study.participant_total

    @admin.action(description="Add the five reference locales (en-US, fr-FR, es-MX, ko-KR, ar-EG)")
    def add_reference_locales(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            study_add_reference_locales(study=study)
        self.message_user(
            request, f"Reference locales added to {plural(queryset.count(), 'study', 'studies')}."
        )


class SongImportForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.none())
    csv_file = forms.FileField(
        label="Song list (CSV)",
        help_text="Columns: external_id (or videoID), title (or song), artist, iso2.",
    )
    audio_zip = forms.FileField(
        required=False,
        label="Audio files (zip, optional)",
        help_text="Files named by external id, e.g. aCAREwXaU9M.mp3.",
    )

    def __init__(self, *args: Any, studies: QuerySet[Study], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["study"].queryset = studies  # type: ignore[attr-defined]


class SongAdminForm(forms.ModelForm[Song]):
    """The audio goes through the same checks and naming as an import: content, not name."""

    audio_upload = forms.FileField(
        required=False,
        label="Audio file",
        help_text="WAV, MP3, OGG, FLAC, M4A or WebM; checked by decoding it. Kept as the original.",
    )

    class Meta:
        model = Song
        fields = [
            "study",
            "external_id",
            "title",
            "artist",
            "country",
            "duration_seconds",
            "clip_start_seconds",
            "clip_end_seconds",
        ]

    def clean_audio_upload(self) -> Any:
        upload = self.cleaned_data.get("audio_upload")
        if upload:
            try:
                self.probed = song_audio_probe(upload)
            except ValueError as error:
                raise forms.ValidationError(f"This file is not playable audio: {error}") from error
        return upload


@admin.register(Song)
class SongAdmin(StudyScopedAdmin[Song]):
    form = SongAdminForm
    list_display = [
        "external_id",
        "title",
        "artist",
        "country",
        "study",
        "audio_state",
        "audio_failures",
    ]
    list_filter = ["study", "country"]
    search_fields = ["external_id", "title", "artist"]
    list_select_related = ["study"]
    readonly_fields = [
        "audio_player",
        "audio_sha256",
        "loudness_lufs",
        "loudness_gain_db",
        "delivery_error",
        "created_at",
    ]
    change_list_template = "admin/studies/song/change_list.html"

    def save_model(self, request: HttpRequest, obj: Song, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        upload = form.cleaned_data.get("audio_upload")
        if upload:
            song_audio_store(song=obj, source=upload, probed=form.probed)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="studies_song_import"
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:studies_song_changelist"))
        studies = studies_visible_to(request.user)
        form = SongImportForm(
            request.POST or None,
            request.FILES or None,
            studies=studies,
            initial={"study": request.GET.get("study__id__exact")},
        )
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                audio = (
                    AudioZip(form.cleaned_data["audio_zip"])
                    if form.cleaned_data["audio_zip"]
                    else None
                )
                report = songs_import(
                    study=form.cleaned_data["study"],
                    csv_source=form.cleaned_data["csv_file"],
                    audio=audio,
                )
            except ImportFailed as failure:
                report = failure.report
                self.message_user(request, report.summary(), level=messages.ERROR)
            except zipfile.BadZipFile:
                form.add_error("audio_zip", "This is not a readable zip file.")
            else:
                self.message_user(request, f"Songs imported: {report.summary()}")
                return HttpResponseRedirect(
                    reverse("admin:studies_song_changelist")
                    + f"?study__id__exact={form.cleaned_data['study'].pk}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import songs",
            "form": form,
            "report": report,
            "opts": self.model._meta,
            "changelist_url": reverse("admin:studies_song_changelist"),
        }
        return TemplateResponse(request, "admin/studies/song/import.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Song]:
        return song_queryset_with_audio_failures(super().get_queryset(request))

    @admin.display(description="Audio failures", ordering="audio_failures")
    def audio_failures(self, song: WithAnnotations[Song, _SongFailures]) -> int:
        """Trials and turns where this clip failed to load twice in a participant's browser."""
        return song.audio_failures

    @admin.display(description="Audio", ordering="duration_seconds")
    def audio_state(self, song: Song) -> str:
        """Playable audio as the phase pre-flight counts it: a file with a known duration."""
        if not song.audio or not song.duration_seconds:
            return "missing"
        return f"{song.duration_seconds:.1f} s"

    @admin.display(description="Listen")
    def audio_player(self, song: Song) -> str:
        url = song_audio_url(song)
        if url is None:
            return "—"
        return format_html('<audio controls preload="none" src="{}"></audio>', url)


class TermImportForm(forms.Form):
    locale = forms.ModelChoiceField(
        queryset=StudyLocale.objects.none(),
        help_text="The study and locale whose rating terms the file holds.",
    )
    csv_file = forms.FileField(
        label="Term list (CSV)",
        help_text="Columns: label (or grouped_tag), gloss (or translation; the English "
        "gloss), and optionally frequency, mean_rating, score. The best scored are selected.",
    )

    def __init__(self, *args: Any, studies: QuerySet[Study], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["locale"].queryset = StudyLocale.objects.filter(  # type: ignore[attr-defined]
            study__in=studies
        ).select_related("study")


@admin.register(Term)
class TermAdmin(StudyScopedAdmin[Term], TranslationAdmin[Term]):
    study_path = "locale__study"
    list_display = [
        "rank",
        "wording",
        "gloss",
        "locale",
        "rounded_score",
        "frequency",
        "rounded_mean_rating",
        "is_selected",
        "is_excluded",
    ]
    list_display_links = ["wording"]
    list_filter = ["locale__study", "locale__code", "is_selected", "is_excluded"]
    search_fields = ["label", "key"]
    list_select_related = ["locale__study"]

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        """Off the index: researchers reach terms through each study's curation page and
        term import ("Terms to curate" lists every study's); the URLs stay."""
        return {}

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/", self.admin_site.admin_view(self.import_view), name="studies_term_import"
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """The admin path of `import_terms`: a study that skips elicitation brings its terms."""
        changelist = reverse("admin:studies_term_changelist")
        if not self.has_add_permission(request):
            return HttpResponseRedirect(changelist)
        studies = studies_visible_to(request.user)
        form = TermImportForm(request.POST or None, request.FILES or None, studies=studies)
        if study_id := request.GET.get("study__id__exact"):
            form.fields["locale"].queryset = form.fields["locale"].queryset.filter(  # type: ignore[attr-defined]
                study_id=study_id
            )
        report = None
        if request.method == "POST" and form.is_valid():
            locale = form.cleaned_data["locale"]
            try:
                report = terms_import(locale=locale, csv_source=form.cleaned_data["csv_file"])
            except ImportFailed as failure:
                report = failure.report
                self.message_user(request, report.summary(), level=messages.ERROR)
            else:
                self.message_user(request, f"Terms imported into {locale.code}: {report.summary()}")
                return HttpResponseRedirect(
                    f"{changelist}?locale__study__id__exact={locale.study_id}"
                    f"&locale__code__exact={locale.code}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import rating terms",
            "form": form,
            "report": report,
            "opts": self.model._meta,
            "changelist_url": changelist,
        }
        return TemplateResponse(request, "admin/studies/song/import.html", context)

    @admin.display(description="Term (locale's language)", ordering="key")
    def wording(self, term: Term) -> str:
        return getattr(term, f"label_{term.locale.language}", None) or term.label

    @admin.display(description="English gloss", ordering="label_en")
    def gloss(self, term: Term) -> str:
        return term.gloss

    @admin.display(description="Score", ordering="score")
    def rounded_score(self, term: Term) -> str:
        return f"{term.score:.1f}"

    @admin.display(description="Mean rating", ordering="mean_rating")
    def rounded_mean_rating(self, term: Term) -> str:
        return "—" if term.mean_rating is None else f"{term.mean_rating:.2f}"


class RecruiterIdentityInline(admin.StackedInline[RecruiterIdentity, Participant]):
    """Personal data: only staff with the dedicated permission see the panel's id."""

    model = RecruiterIdentity
    extra = 0
    can_delete = False
    readonly_fields = fields = ("recruiter_participant_id", "entry_parameters")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("studies.view_recruiter_id")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PrescreenResultInline(admin.TabularInline[PrescreenResult, Participant]):
    model = PrescreenResult
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "passed", "score", "details", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QuestionnaireInline(admin.StackedInline[QuestionnaireResponse, Participant]):
    model = QuestionnaireResponse
    extra = 0
    can_delete = False
    readonly_fields = ["answers", "submitted_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Participant)
class ParticipantAdmin(StudyScopedAdmin[Participant]):
    list_display = ["public_id", "study", "locale", "phase", "status", "started_at", "last_seen_at"]
    list_filter = ["study", "locale__code", "phase", "status"]
    search_fields = ["public_id"]
    list_select_related = ["study", "locale"]
    readonly_fields = [
        "public_id",
        "study",
        "locale",
        "phase",
        "status",
        "status_reason",
        "consented_at",
        "started_at",
        "last_seen_at",
        "finished_at",
        "user_agent",
    ]
    exclude = ["token"]
    inlines = [RecruiterIdentityInline, PrescreenResultInline, QuestionnaireInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # participants arrive through entry links only
