"""Importing a locale's rating terms from a list such as GlobalMood's terms_{lang}.csv.

A study that skips elicitation brings its terms this way; the file then is the selection.
"""

from __future__ import annotations

from typing import IO

from django.db import transaction

from moodlab.studies.csv_import import ImportFailed, ImportReport, parse_float, read_csv_rows
from moodlab.studies.models import StudyLocale, Term, label_field_of
from moodlab.studies.normalization import grouping_key

TERM_COLUMNS = {
    "label": ("grouped_tag", "term", "label"),
    "gloss": ("translation", "gloss", "english"),
    "frequency": ("frequency",),
    "mean_rating": ("mean_rating",),
    "score": ("score",),
}


def terms_import(
    *, locale: StudyLocale, csv_source: str | bytes | IO[bytes] | IO[str]
) -> ImportReport:
    """Replace the locale's term selection with the file's terms, best score first.

    The top `terms_per_locale` by score are selected; terms already stored but absent from
    the file are kept, deselected. Refused once the locale's terms are frozen.
    """
    report = ImportReport()
    if locale.terms_frozen_at is not None:
        report.add_error(
            0, "", f"{locale.code}'s rating terms are frozen: the rating phase has started"
        )
        raise ImportFailed(report)
    rows = read_csv_rows(csv_source, columns=TERM_COLUMNS, required=("label",), report=report)
    parsed: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for line, values in rows:
        label = values["label"]
        key = grouping_key(label, language=locale.language) if label else ""
        if not key:
            report.add_error(line, "label", "is empty")
            continue
        if key in seen:
            report.add_error(line, "label", f"groups with row {seen[key]} (same key {key!r})")
            continue
        seen[key] = line
        numbers = {
            name: parse_float(
                values.get(name, ""), row=line, field_name=name, report=report, minimum=0
            )
            for name in ("frequency", "mean_rating", "score")
        }
        parsed.append(
            {"key": key, "label": label, "gloss": values.get("gloss") or label, **numbers}
        )
    if not report.ok:
        raise ImportFailed(report)
    parsed.sort(key=lambda row: -float(row["score"] or 0))  # type: ignore[arg-type]
    with transaction.atomic():
        locked = StudyLocale.objects.select_for_update().get(pk=locale.pk)
        if locked.terms_frozen_at is not None:
            report.add_error(0, "", f"{locale.code}'s rating terms are frozen")
            raise ImportFailed(report)
        existing = {term.key: term for term in locale.terms.all()}
        keep = locale.study.terms_per_locale
        for rank, row in enumerate(parsed, start=1):
            _save_term(locale, existing.get(str(row["key"])), row, rank, rank <= keep, report)
        locale.terms.exclude(key__in=seen).update(is_selected=False, rank=None)
    return report


def _save_term(
    locale: StudyLocale,
    term: Term | None,
    row: dict[str, object],
    rank: int,
    selected: bool,
    report: ImportReport,
) -> None:
    label_field = label_field_of(locale)
    values: dict[str, object] = {
        label_field: row["label"],
        "label_en": row["gloss"] if label_field != "label_en" else row["label"],
        "frequency": int(row["frequency"] or 0),  # type: ignore[call-overload]
        "mean_rating": row["mean_rating"],
        "score": row["score"] or 0.0,
        "rank": rank,
        "is_selected": selected,
        "is_excluded": False,
    }
    if term is None:
        Term.objects.create(locale=locale, key=str(row["key"]), **values)
        report.created += 1
        return
    changed = {name: value for name, value in values.items() if getattr(term, name) != value}
    if not changed:
        report.unchanged += 1
        return
    Term.objects.filter(pk=term.pk).update(**changed)
    report.updated += 1
