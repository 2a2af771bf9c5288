"""Recruitment closes per locale when its work is done, and a session is never paid for nothing.

A locale is closed when no new participant could do any work in it: in the rating phase
every song × selected term cell has its target (or is retired, or the allocation found no
song left for a new session while no trial was held), in the elicitation phase every chain
is complete. The entry page then says the study is full and sends the panel's "no places"
return; the locale shows the closure and its reason in the admin. A session that finds no
work only because others hold it waits instead.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from moodlab.studies.extensions import phase_extension
from moodlab.studies.models import Participant, StudyLocale
from moodlab.studies.services.participants import participant_finish

REASON_RATING_TARGET = "every song × term has its target number of ratings"
REASON_RATING_EXHAUSTED = "no song has room left for a new session's terms"
REASON_CHAINS_COMPLETE = "every chain is complete"
NO_WORK_REASON = "the study was full: no work was left for this session"
# Seconds a session with no work right now waits before asking again (the page backs off).
WAIT_SECONDS = 10


def locale_work_done_reason(*, locale: StudyLocale) -> str:
    """Why no new participant has work left in the locale; "" while some is left.

    The app that runs the study's phase knows (see `moodlab.studies.extensions`).
    """
    extension = phase_extension(locale.study.phase)
    if extension is None or extension.work_done is None or not extension.work_done(locale):
        return ""
    return extension.work_done_reason


@transaction.atomic
def locale_recruitment_set(*, locale: StudyLocale, reason: str) -> StudyLocale:
    """Close the locale's recruitment with a reason, or reopen it with reason ""."""
    closed_at = timezone.now() if reason else None
    if bool(locale.recruitment_closed_at) != bool(reason) or (
        reason and reason != locale.recruitment_closed_reason
    ):
        StudyLocale.objects.filter(pk=locale.pk).update(
            recruitment_closed_at=closed_at, recruitment_closed_reason=reason[:200]
        )
        locale.recruitment_closed_at, locale.recruitment_closed_reason = closed_at, reason[:200]
    return locale


def locale_recruitment_refresh(*, locale: StudyLocale) -> bool:
    """Re-read whether the locale has work left, record it, and answer whether it is closed.

    Asked at every entry, so a target raised or a participant excluded reopens it. A closure
    the allocation found (no song fits a new session's terms) stays until a researcher
    clears it in the admin: the counts alone cannot tell that it has lifted.
    """
    if locale.recruitment_closed_reason == REASON_RATING_EXHAUSTED:
        return locale.recruitment_closed_at is not None
    reason = locale_work_done_reason(locale=locale)
    locale_recruitment_set(locale=locale, reason=reason)
    return bool(reason)


def participant_no_work(
    *, participant: Participant, others_hold_work: bool, close_locale: bool = True
) -> bool:
    """A session that found no work before doing any: wait (True) or end as full (False).

    While other sessions hold work that may come back (held trials, held chains), the
    participant waits; otherwise the locale is closed and the session ends with the panel's
    "no places" return, never a completion.
    """
    if others_hold_work:
        Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now())
        return True
    if close_locale:
        _close_for_no_work(participant)
    participant_finish(
        participant=participant, status=Participant.Status.FULL, reason=NO_WORK_REASON
    )
    return False


def _close_for_no_work(participant: Participant) -> None:
    locale = participant.locale
    fallback = (
        REASON_CHAINS_COMPLETE
        if participant.phase == Participant.Phase.ELICITATION
        else REASON_RATING_EXHAUSTED
    )
    reason = locale_work_done_reason(locale=locale) or fallback
    locale_recruitment_set(locale=locale, reason=reason)
