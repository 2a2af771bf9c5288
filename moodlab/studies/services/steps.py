"""The participant's way through a session: consent, prescreens, trials, questionnaire, exit.

Every step records its answer once. An identical retry (a network resend, a second tab)
answers what is stored; a different second answer is refused with 409, so a participant
cannot change their consent or retake a check they failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db import transaction
from django.db.models import TextChoices
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moodlab.errors import Conflict, Invalid, StepsPending
from moodlab.studies.models import (
    Participant,
    PrescreenResult,
    QuestionnaireResponse,
    Study,
    StudyLocale,
)
from moodlab.studies.services.flow import (
    PRESCREEN_STEPS,
    pending_steps,
    session_ended,
)
from moodlab.studies.services.participants import participant_finish

TRIALS = "trials"
QUESTIONNAIRE = "questionnaire"
COMPLETE = "complete"
ENDED = "ended"
STEP_ORDER = ("consent", *(step for _kind, step in PRESCREEN_STEPS), TRIALS, QUESTIONNAIRE)


@dataclass(frozen=True)
class ParticipantExit:
    kind: str
    code: str
    redirect_url: str | None


@dataclass(frozen=True)
class ParticipantState:
    participant: Participant
    steps: list[str]
    next_step: str
    consent_text: str
    exit: ParticipantExit | None
    volume: float | None = None


def enabled_steps(study: Study) -> list[str]:
    """The steps this study's pages show, in page order."""
    flags = {"consent": study.ask_consent, TRIALS: True, QUESTIONNAIRE: study.questionnaire}
    flags.update({step: getattr(study, step) for _kind, step in PRESCREEN_STEPS})
    return [step for step in STEP_ORDER if flags[step]]


def participant_state(participant: Participant) -> ParticipantState:
    """Where the participant stands, and where the page sends them next."""
    pending: list[str] = []
    if participant.status == Participant.Status.STARTED:
        pending = pending_steps(participant)
        next_step = next(iter(pending), TRIALS)
    elif participant.status == Participant.Status.COMPLETED:
        asked = participant.study.questionnaire
        answered = asked and QuestionnaireResponse.objects.filter(participant=participant).exists()
        next_step = QUESTIONNAIRE if asked and not answered else COMPLETE
    else:
        next_step = ENDED
    return ParticipantState(
        participant=participant,
        steps=enabled_steps(participant.study),
        next_step=next_step,
        consent_text=participant.locale.consent_text,
        exit=exit_for(participant) if next_step in (COMPLETE, ENDED) else None,
        volume=(
            _volume_level(participant)
            if participant.status == Participant.Status.STARTED
            and "volume_calibration" not in pending
            else None
        ),
    )


def _volume_level(participant: Participant) -> float | None:
    """The level set at calibration, kept with the session so that a new browser plays at
    it too."""
    if not participant.study.volume_calibration:
        return None
    details = (
        PrescreenResult.objects.filter(participant=participant, kind=PrescreenResult.Kind.VOLUME)
        .values_list("details", flat=True)
        .first()
    )
    level = (details or {}).get("level")
    return float(level) if isinstance(level, int | float) else None


def exit_for(participant: Participant) -> ParticipantExit:
    """The recruiter's code and return link: completion when completed, screen-out otherwise.

    Declined, screened-out, timed-out and excluded sessions all go back by the screen-out
    link, which is how panels tell them apart from completions; sessions that found the
    study full by its "no places" link when the locale has one.
    """
    locale = participant.locale
    if participant.status == Participant.Status.COMPLETED:
        code, url = locale.completion_code, locale.completion_url
    elif participant.status == Participant.Status.FULL:
        return no_places_exit(locale)
    else:
        code, url = locale.screenout_code, locale.screenout_url
    return _exit(participant.status, code, url)


def no_places_exit(locale: StudyLocale) -> ParticipantExit:
    """The panel's "no places" return of a full locale; its screen-out one if none is set."""
    if locale.no_places_url or locale.no_places_code:
        return _exit(Participant.Status.FULL, locale.no_places_code, locale.no_places_url)
    return _exit(Participant.Status.FULL, locale.screenout_code, locale.screenout_url)


def _exit(kind: str, code: str, url: str) -> ParticipantExit:
    return ParticipantExit(
        kind=kind,
        code=code,
        redirect_url=url.replace("{code}", quote(code, safe="")) if url else None,
    )


def lock_participant(participant: Participant) -> None:
    """Serialise one participant's step answers on their row; refresh what decides them.

    Call inside a transaction. Two tabs, or a retry racing the original, then see each
    other's answer instead of both storing one.
    """
    participant.status, participant.consented_at = (
        Participant.objects.select_for_update()
        .values_list("status", "consented_at")
        .get(pk=participant.pk)
    )


def require_step_enabled(study: Study, step: str) -> None:
    if step not in enabled_steps(study):
        raise Invalid(message=f"This study has no {step} step.", code="step_disabled")


def require_step_open(participant: Participant, step: str) -> None:
    """Refuse a step the study lacks, an ended session, and a step taken before its turn."""
    require_step_enabled(participant.study, step)
    if participant.status != Participant.Status.STARTED:
        raise session_ended(participant)
    position = STEP_ORDER.index(step)
    earlier = [s for s in pending_steps(participant) if STEP_ORDER.index(s) < position]
    if earlier:
        raise StepsPending(earlier)


@transaction.atomic
def consent_record(*, participant: Participant, agree: bool) -> Participant:
    """Agreeing opens the prescreens; declining ends the session as declined."""
    require_step_enabled(participant.study, "consent")
    lock_participant(participant)
    answered = participant.consented_at is not None or (
        participant.status == Participant.Status.DECLINED
    )
    if answered:
        if (participant.consented_at is not None) != agree:
            raise Conflict("Consent was already answered differently.")
        return participant
    require_step_open(participant, "consent")
    if not agree:
        return participant_finish(
            participant=participant, status=Participant.Status.DECLINED, reason="declined consent"
        )
    participant.consented_at = timezone.now()
    participant.save(update_fields=["consented_at"])
    return participant


class Gender(TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    NON_BINARY = "non_binary", _("Non-binary")
    OTHER = "other", _("Other")
    PREFER_NOT = "prefer_not", _("Prefer not to say")


class MusicalTraining(TextChoices):
    NONE = "none", _("None")
    LESS_THAN_ONE = "lt_1", _("Less than 1 year")
    ONE_TO_THREE = "1_3", _("1 to 3 years")
    THREE_TO_FIVE = "3_5", _("3 to 5 years")
    FIVE_TO_TEN = "5_10", _("5 to 10 years")
    MORE_THAN_TEN = "gt_10", _("More than 10 years")


@transaction.atomic
def questionnaire_submit(
    *, participant: Participant, answers: dict[str, Any]
) -> QuestionnaireResponse:
    """Store the closing questionnaire of a completed session, once.

    `answers` are validated already (the API's serializer) and JSON-ready.
    """
    require_step_enabled(participant.study, QUESTIONNAIRE)
    lock_participant(participant)
    existing = QuestionnaireResponse.objects.filter(participant=participant).first()
    if existing is not None:
        if existing.answers != answers:
            raise Conflict("The questionnaire was already answered differently.")
        return existing
    if participant.status == Participant.Status.STARTED:
        pending = [*pending_steps(participant), TRIALS]
        raise StepsPending(pending)
    if participant.status != Participant.Status.COMPLETED:
        raise session_ended(participant)
    return QuestionnaireResponse.objects.create(participant=participant, answers=answers)
