"""The curation page: one locale's whole term table on one page, editable in place.

Labels and glosses are inputs in each row; checked rows can be merged, split, excluded or
(de)selected; "select top N" takes its N from the page. Every change calls a curation
service, so the rules are the API's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from elicitation.selectors import curation_key_shares
from elicitation.services.curation import (
    term_rename,
    term_set_excluded,
    term_set_selected,
    term_split,
    terms_merge,
    terms_recompute,
    terms_select_top,
)
from moodlab.errors import DomainError
from moodlab.studies.models import StudyLocale, Term, label_field_of
from moodlab.studies.selectors import studies_visible_to
from moodlab.wording import plural


def curation_view(modeladmin: ModelAdmin, request: HttpRequest, study_id: int) -> HttpResponse:
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    locales = list(study.locales.order_by("code"))
    code = request.GET.get("locale") or (locales[0].code if locales else "")
    locale = next((item for item in locales if item.code == code), None)
    url = reverse("admin:elicitation_curationterm_study", args=[study.pk])
    if locale is not None and request.method == "POST":
        if modeladmin.has_change_permission(request):
            _apply(modeladmin, request, locale)
        return HttpResponseRedirect(f"{url}?locale={locale.code}")
    terms: list[Term] = []
    shares: dict[int, Any] = {}
    if locale is not None:
        terms = list(locale.terms.order_by("rank", "-score", "key"))
        shares = curation_key_shares(locale=locale)
        label_field = label_field_of(locale)
        for term in terms:
            term.label_text = getattr(term, label_field) or ""  # type: ignore[attr-defined]
            term.key_shares = [  # type: ignore[attr-defined]
                share for share in shares.get(term.pk, []) if share.key != term.key
            ]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Curate terms: {study}",
        "study": study,
        "locales": locales,
        "locale": locale,
        "terms": terms,
        "selected_count": sum(1 for term in terms if term.is_selected),
        "frozen": locale is not None and locale.terms_frozen_at is not None,
        "glossed": locale is not None and label_field_of(locale) != "label_en",
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/elicitation/curationterm/curate.html", context)


def _checked(request: HttpRequest, locale: StudyLocale) -> list[Term]:
    ids = [int(value) for value in request.POST.getlist("term") if value.isdigit()]
    return list(locale.terms.select_related("locale").filter(pk__in=ids).order_by("rank", "key"))


def _each(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    terms: list[Term],
    service: Callable[..., object],
    done: str,
    **arguments: object,
) -> None:
    if not terms:
        modeladmin.message_user(request, "Tick the terms to act on first.", messages.WARNING)
        return
    with transaction.atomic():
        for term in terms:
            service(term=term, **arguments)
    modeladmin.message_user(request, f"{plural(len(terms), 'term')} {done}.")


def _apply(modeladmin: ModelAdmin, request: HttpRequest, locale: StudyLocale) -> None:
    """Run the button's service; a refusal becomes a readable message, nothing half-done."""
    action = request.POST.get("action", "")
    try:
        if action == "save":
            _save_labels(modeladmin, request, locale)
        elif action == "recompute":
            terms = terms_recompute(locale=locale)
            modeladmin.message_user(
                request,
                f"Terms of {locale.code}: {plural(len(terms), 'term')} recomputed from the chains.",
            )
        elif action == "select_top":
            _select_top(modeladmin, request, locale)
        elif action == "merge":
            ids = [int(value) for value in request.POST.getlist("term") if value.isdigit()]
            into = request.POST.get("into", "")
            outcome = terms_merge(
                locale=locale, term_ids=ids, into_id=int(into) if into.isdigit() else None
            )
            modeladmin.message_user(request, outcome.describe())
        elif action == "split":
            terms = _checked(request, locale)
            _each(modeladmin, request, terms, term_split, "split into their merged keys")
        elif action in ("exclude", "include"):
            terms = _checked(request, locale)
            excluded = action == "exclude"
            done = "excluded" if excluded else "included again"
            _each(modeladmin, request, terms, term_set_excluded, done, excluded=excluded)
        elif action in ("select", "deselect"):
            terms = _checked(request, locale)
            selected = action == "select"
            done = "selected" if selected else "deselected"
            _each(modeladmin, request, terms, term_set_selected, done, selected=selected)
    except DomainError as error:
        modeladmin.message_user(request, str(error), messages.ERROR)


@transaction.atomic
def _save_labels(modeladmin: ModelAdmin, request: HttpRequest, locale: StudyLocale) -> None:
    label_field = label_field_of(locale)
    glossed = label_field != "label_en"  # an English label is its own gloss
    changed = 0
    for term in locale.terms.select_related("locale"):
        label = request.POST.get(f"label-{term.pk}")
        gloss = request.POST.get(f"gloss-{term.pk}") if glossed else None
        if label is None:
            continue
        new_label = label.strip() != (getattr(term, label_field) or "")
        new_gloss = gloss is not None and gloss.strip() != (term.label_en or "")  # type: ignore[attr-defined]
        if new_label or new_gloss:
            term_rename(term=term, label=label, gloss=gloss)
            changed += 1
    modeladmin.message_user(
        request, f"Terms of {locale.code}: {plural(changed, 'term')} renamed or glossed."
    )


def _select_top(modeladmin: ModelAdmin, request: HttpRequest, locale: StudyLocale) -> None:
    raw = request.POST.get("count", "")
    if not raw.isdigit():
        modeladmin.message_user(
            request, "Enter how many terms to select, as a whole number.", messages.ERROR
        )
        return
    asked = int(raw)
    selected = terms_select_top(locale=locale, count=asked)
    message = f"Terms of {locale.code}: the top {plural(len(selected), 'term')} by score selected"
    if len(selected) < asked:
        message += f" — only {len(selected)} were there, not {asked}"
    wanted = locale.study.terms_per_locale
    if len(selected) != wanted:
        message += f" (the study asks for {wanted} per locale)"
    modeladmin.message_user(request, message + ".")
