"""The pre-flight checklist of a phase move: what must hold before a study changes phase.

A study never moves back, so every move makes something final. `phase_preflight` lists,
for one move, each check with its outcome: a *blocker* refuses the move, a *warning*
needs the researcher's explicit confirmation, *ok* is shown for reassurance. The admin's
phase page, the staff API and the `set_phase` command all show this list, and
`study_set_phase` enforces it, so no path skips it. The apps built on the core add their
own checks (chains before curation, quality rules before rating) through
`moodlab.studies.extensions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from moodlab.studies.extensions import extensions
from moodlab.studies.models import Participant, Song, Study, StudyLocale, label_field_of
from moodlab.studies.selectors import songs_without_playable_audio
from moodlab.wording import named, plural

Level = Literal["blocker", "warning", "ok"]

# What each move makes final, in the researcher's words.
FINAL: dict[str, list[str]] = {
    Study.Phase.ELICITATION: [
        "Entry links open for the elicitation phase: participants start filling chains.",
        "The study cannot return to draft.",
    ],
    Study.Phase.CURATION: [
        "Elicitation ends: entry links stop admitting participants and chains stop filling.",
    ],
    Study.Phase.RATING: [
        "Each locale's selected terms are frozen: they can no longer be renamed, glossed, "
        "merged or reselected.",
        "Entry links open for rating; elicitation and curation cannot be reopened.",
    ],
    Study.Phase.CLOSED: [
        "Closing is irreversible: entry links stop admitting anyone, for good.",
        "Sessions still running can no longer submit.",
    ],
}


@dataclass(frozen=True)
class Check:
    title: str
    level: Level
    detail: str

    @property
    def is_blocker(self) -> bool:
        return self.level == "blocker"

    @property
    def is_warning(self) -> bool:
        return self.level == "warning"


@dataclass
class Preflight:
    study: Study
    phase: str
    locales: list[StudyLocale] = field(default_factory=list)
    """The study's active locales, which most checks go through."""
    checks: list[Check] = field(default_factory=list)

    @property
    def blockers(self) -> list[Check]:
        return [check for check in self.checks if check.is_blocker]

    @property
    def warnings(self) -> list[Check]:
        return [check for check in self.checks if check.is_warning]

    @property
    def final(self) -> list[str]:
        return FINAL.get(self.phase, [])

    @property
    def phase_label(self) -> str:
        return str(Study.Phase(self.phase).label)

    def add(self, title: str, problem: Level | None, detail: str, fine: str = "") -> None:
        """Record a check: its problem level and detail, or `fine` when it passed."""
        if problem is None:
            self.checks.append(Check(title, "ok", fine or detail))
        else:
            self.checks.append(Check(title, problem, detail))

    def as_json(self) -> dict[str, object]:
        return {
            "phase": self.phase,
            "blockers": [c.detail for c in self.blockers],
            "warnings": [c.detail for c in self.warnings],
            "checks": [
                {"title": c.title, "level": c.level, "detail": c.detail} for c in self.checks
            ],
            "final": self.final,
        }


def phase_preflight(*, study: Study, phase: str) -> Preflight:
    """Every check of moving `study` to `phase`, in the order a researcher reads them."""
    locales = list(study.locales.filter(is_active=True).order_by("code"))
    preflight = Preflight(study=study, phase=phase, locales=locales)
    if phase != Study.Phase.CLOSED:
        preflight.add(
            "Locales",
            None if locales else "blocker",
            "Add at least one active locale first.",
            f"Active: {', '.join(locale.code for locale in locales)}.",
        )
    if phase in (Study.Phase.ELICITATION, Study.Phase.RATING):
        _check_songs(preflight, study)
        _check_recruiter_links(preflight, locales)
        if study.vocabulary_check:
            missing = [locale.code for locale in locales if not locale.has_vocabulary]
            preflight.add(
                "Vocabulary check",
                "blocker" if missing else None,
                f"No vocabulary word list ships for {', '.join(missing)}: add the locale's "
                "own list, or turn the study's vocabulary check off.",
                "Every locale has a word list.",
            )
    if phase == Study.Phase.RATING:
        _check_terms(preflight, study, locales)
    if phase == Study.Phase.CLOSED:
        running = study.participants.filter(status=Participant.Status.STARTED).count()
        preflight.add(
            "Sessions in progress",
            "warning" if running else None,
            f"{plural(running, 'session')} still running will be cut short.",
            "No session is running.",
        )
    for extension in extensions():
        if extension.preflight is not None:
            extension.preflight(preflight)
    return preflight


def _check_songs(preflight: Preflight, study: Study) -> None:
    total = Song.objects.filter(study=study).count()
    if not total:
        preflight.add("Songs with playable audio", "blocker", "Import the study's songs first.")
        return
    silent = songs_without_playable_audio(study=study)
    preflight.add(
        "Songs with playable audio",
        "blocker" if silent else None,
        f"{plural(len(silent), 'song')} of {total} without playable audio (a stored file "
        f"with a known duration): {named([song.external_id for song in silent])}. Upload "
        "their audio, or delete them.",
        f"All {plural(total, 'song')} have playable audio.",
    )


def _check_recruiter_links(preflight: Preflight, locales: list[StudyLocale]) -> None:
    no_completion = [locale.code for locale in locales if not locale.completion_url]
    preflight.add(
        "Recruiter links",
        "warning" if no_completion else None,
        f"No completion link for {', '.join(no_completion)}: finished participants see "
        "their code but are not sent back to the panel.",
        "Every locale sends finished participants back to its panel.",
    )
    no_screenout = [locale.code for locale in locales if not locale.screenout_url]
    if no_screenout:
        preflight.add(
            "Screen-out links",
            "warning",
            f"No screen-out link for {', '.join(no_screenout)}: screened-out participants "
            "are not sent back to the panel.",
        )


def _check_terms(preflight: Preflight, study: Study, locales: list[StudyLocale]) -> None:
    wanted, needed = study.terms_per_locale, study.terms_per_participant
    for locale in locales:
        selected = list(locale.terms.filter(is_selected=True).order_by("rank", "key"))
        count = len(selected)
        if count < needed:
            level: Level | None = "blocker"
            detail = (
                f"{locale.code} has {count} selected rating terms; each participant rates "
                f"{needed}, so each locale needs at least {needed}."
            )
        elif count != wanted:
            level = "warning"
            detail = (
                f"{locale.code} has {count} selected rating terms; the study asks for {wanted}."
            )
        else:
            level, detail = None, f"{locale.code}: {count} selected rating terms."
        preflight.add(f"Rating terms, {locale.code}", level, detail)
        if locale.language == "en":
            continue
        label_field = label_field_of(locale)
        unglossed = [
            getattr(term, label_field) or term.key
            for term in selected
            if not (term.label_en or "").strip()  # type: ignore[attr-defined]
        ]
        preflight.add(
            f"English glosses, {locale.code}",
            "warning" if unglossed else None,
            f"{plural(len(unglossed), 'selected term')} of {locale.code} without an English "
            f"gloss ({named(unglossed)}): the analysis cannot compare them across locales, and "
            "they cannot be glossed once frozen.",
            f"Every selected term of {locale.code} has an English gloss.",
        )
