"""Studies, their locales and phases."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from moodlab.errors import Invalid
from moodlab.studies.locales import REFERENCE_LOCALES, RTL_LANGUAGES, split_locale_code
from moodlab.studies.models import Study, StudyLocale
from moodlab.studies.preflight import Preflight, phase_preflight

PHASE_ORDER: list[str] = [phase.value for phase in Study.Phase]


def study_add_locale(*, study: Study, code: str, **settings: object) -> StudyLocale:
    """Add a locale (or return the existing one); known codes get their name and direction."""
    language, country = split_locale_code(code)
    code = f"{language}-{country}"
    preset = REFERENCE_LOCALES.get(code)
    defaults: dict[str, object] = {
        "name": preset.name if preset else code,
        "direction": (
            preset.direction
            if preset
            else ("rtl" if language in RTL_LANGUAGES else StudyLocale.Direction.LTR)
        ),
        **settings,
    }
    locale = StudyLocale(study=study, code=code, **defaults)
    locale.full_clean(exclude=["study"], validate_unique=False)
    existing, _ = StudyLocale.objects.get_or_create(study=study, code=code, defaults=defaults)
    return existing


def study_add_reference_locales(*, study: Study) -> list[StudyLocale]:
    return [study_add_locale(study=study, code=code) for code in REFERENCE_LOCALES]


class PhaseMoveRefused(Invalid):
    """A phase move the pre-flight refuses, or one whose warnings nobody confirmed.

    Carries the checklist, so every caller (admin, API, command) can show it whole.
    """

    def __init__(self, preflight: Preflight, *, unconfirmed: bool = False) -> None:
        self.preflight = preflight
        self.unconfirmed = unconfirmed
        if unconfirmed:
            messages = [
                f"Moving to {preflight.phase_label} needs your confirmation of: "
                + " ".join(check.detail for check in preflight.warnings)
            ]
        else:
            messages = [check.detail for check in preflight.blockers]
        super().__init__({"phase": messages})


@transaction.atomic
def study_set_phase(*, study: Study, phase: str, confirm: bool = False) -> Study:
    """Move a study forward once its pre-flight checklist passes.

    Blockers refuse the move; warnings refuse it unless `confirm` says the researcher read
    them. Elicitation and curation may be skipped (a study can import its terms), but a study
    never moves back: collected data would no longer match the phase's parameters. Starting
    the rating phase freezes each locale's term selection.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if phase not in PHASE_ORDER:
        raise Invalid({"phase": f"Unknown phase {phase!r}."})
    if PHASE_ORDER.index(phase) <= PHASE_ORDER.index(study.phase):
        raise Invalid(
            {
                "phase": (
                    f"A study in {study.get_phase_display()} cannot move to "
                    f"{Study.Phase(phase).label}: phases never go back."
                )
            }
        )
    preflight = phase_preflight(study=study, phase=phase)
    if preflight.blockers:
        raise PhaseMoveRefused(preflight)
    if preflight.warnings and not confirm:
        raise PhaseMoveRefused(preflight, unconfirmed=True)
    if phase == Study.Phase.RATING:
        study.locales.filter(is_active=True, terms_frozen_at=None).update(
            terms_frozen_at=timezone.now()
        )
    study.phase = phase
    study.save(update_fields=["phase", "updated_at"])
    return study
