"""Participants: entering by the panel's link, resuming, finishing, expiring."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from moodlab.errors import Invalid, Refused
from moodlab.studies.models import Participant, RecruiterIdentity, Study, StudyLocale

# How stale a participant's last_seen_at may get before a request writes it again.
TOUCH_INTERVAL = timedelta(seconds=30)


# Panels add their own ids (study, session) to the entry link; a few short ones are kept.
MAX_ENTRY_PARAMETERS = 10
MAX_ENTRY_PARAMETER_LENGTH = 200


class EntryRefused(Refused):
    """The entry link cannot start a session; `code` tells the page what to say."""

    def __init__(self, code: str, message: str, *, participant: Participant | None = None) -> None:
        super().__init__(message, code=code)
        # Set for a panel id that already took part: the page shows how their session ended.
        self.participant = participant


# Panels whose entry links carry, besides the participant id, an id of this one attempt
# (Prolific: SESSION_ID). Resuming a session then needs the same attempt id.
PANEL_SESSION_PARAMETERS = {"PROLIFIC_PID": "SESSION_ID"}


def participant_enter(
    *,
    study: Study,
    locale: StudyLocale,
    recruiter_participant_id: str,
    entry_parameters: dict[str, str] | None = None,
    user_agent: str = "",
    held: Participant | None = None,
) -> tuple[Participant, bool]:
    """Start a session from an entry link, or resume the one this panel id already has.

    Returns (participant, created); the participant carries a fresh `token`, except when
    `held` (the session the caller proved it holds, by its current token) is the one
    resumed: that caller keeps its token. The same panel id never takes a study twice: a
    finished or screened-out session is refused (the refusal carries it, so the page can
    show how it ended), an active one is resumed under a new token (see `_reenter` for who
    may resume). A locale whose work is done admits no one new.
    """
    if locale.study_id != study.pk or not locale.is_active:
        raise EntryRefused("unknown_locale", "This study is not open in that language.")
    if study.phase not in (Study.Phase.ELICITATION, Study.Phase.RATING):
        raise EntryRefused("not_open", "This study is not collecting responses right now.")
    recruiter_participant_id = recruiter_participant_id.strip()[:128]
    entry_parameters = entry_parameters or {}
    if not recruiter_participant_id and study.require_recruiter_id:
        raise EntryRefused(
            "missing_id", "This link must come from the recruitment panel (participant id missing)."
        )
    if recruiter_participant_id:
        with transaction.atomic():
            identity = (
                RecruiterIdentity.objects.select_for_update()
                .select_related("participant")
                .filter(study=study, recruiter_participant_id=recruiter_participant_id)
                .first()
            )
            if identity is not None:
                return _reenter(
                    identity,
                    locale=locale,
                    entry_parameters=entry_parameters,
                    user_agent=user_agent,
                    held=held,
                )
    from moodlab.studies.services.recruitment import (
        locale_recruitment_refresh,  # imports this module
    )

    # Outside the transaction below: the closure is recorded even though entry is refused.
    if locale_recruitment_refresh(locale=locale):
        raise EntryRefused("full", "This study is full: no places are left.")
    return _participant_create(
        study=study,
        locale=locale,
        recruiter_participant_id=recruiter_participant_id,
        entry_parameters=entry_parameters,
        user_agent=user_agent,
    )


@transaction.atomic
def _participant_create(
    *,
    study: Study,
    locale: StudyLocale,
    recruiter_participant_id: str,
    entry_parameters: dict[str, str],
    user_agent: str,
) -> tuple[Participant, bool]:
    participant = _new_participant(study=study, locale=locale, user_agent=user_agent)
    if recruiter_participant_id:
        try:
            with transaction.atomic():
                RecruiterIdentity.objects.create(
                    participant=participant,
                    study=study,
                    recruiter_participant_id=recruiter_participant_id,
                    entry_parameters=entry_parameters,
                )
        except IntegrityError:
            # Two tabs opened the link at the same instant: the other one won; go through it.
            participant.delete()
            identity = (
                RecruiterIdentity.objects.select_for_update()
                .select_related("participant")
                .get(study=study, recruiter_participant_id=recruiter_participant_id)
            )
            return _reenter(
                identity, locale=locale, entry_parameters=entry_parameters, user_agent=user_agent
            )
    return participant, True


def _new_participant(*, study: Study, locale: StudyLocale, user_agent: str) -> Participant:
    now = timezone.now()
    participant = Participant(
        started_at=now,
        last_seen_at=now,
        study=study,
        locale=locale,
        phase=study.phase,
        user_agent=user_agent[:400],
    )
    participant.issue_token()
    participant.save()
    return participant


def _reenter(
    identity: RecruiterIdentity,
    *,
    locale: StudyLocale,
    entry_parameters: dict[str, str],
    user_agent: str,
    held: Participant | None = None,
) -> tuple[Participant, bool]:
    """Whoever presents a known panel id: the session's holder, or someone who learnt the id.

    - The existing secret is never handed out: a resume issues a new token, and the old one
      (another browser's) stops working.
    - Unless the caller already holds it (`held`): a browser that opens its link again (a
      second tab, the panel's page reloaded) keeps its token. Rotating it there would gain
      nothing and would turn away the requests its open page has in flight.
    - Where the panel sends an attempt id (SESSION_ID), resuming needs the same one.
    - A session that holds no answers (consent declined, or not yet given) never blocks the
      panel id: a new entry replaces it, so no one else's decline turns the real person away.
    """
    participant = identity.participant
    session_parameter = PANEL_SESSION_PARAMETERS.get(locale.recruiter_id_param)
    stored = identity.entry_parameters.get(session_parameter) if session_parameter else None
    same_attempt = not stored or entry_parameters.get(session_parameter or "") == stored
    unanswered = participant.status == Participant.Status.DECLINED or (
        participant.is_active and participant.consented_at is None and participant.study.ask_consent
    )
    if participant.is_active and same_attempt:
        participant_touch(participant=participant)
        if held is not None and held.pk == participant.pk:
            return participant, False
        participant.issue_token()
        Participant.objects.filter(pk=participant.pk).update(token_hash=participant.token_hash)
        return participant, False
    if unanswered:
        replacement = _replace(
            identity, locale=locale, entry_parameters=entry_parameters, user_agent=user_agent
        )
        return replacement, True
    if participant.is_active:
        raise EntryRefused(
            "session_mismatch",
            "This panel id has a session under another panel session id.",
        )
    raise EntryRefused(
        "already_taken",
        "You have already taken part in this study. Thank you!",
        participant=participant,
    )


def _replace(
    identity: RecruiterIdentity,
    *,
    locale: StudyLocale,
    entry_parameters: dict[str, str],
    user_agent: str,
) -> Participant:
    """End the unanswered session the panel id had and give the id to a new one."""
    old = identity.participant
    Participant.objects.filter(pk=old.pk, status=Participant.Status.STARTED).update(
        status=Participant.Status.TIMED_OUT,
        status_reason="replaced by a later entry with the same panel id",
        finished_at=timezone.now(),
    )
    participant = _new_participant(study=old.study, locale=locale, user_agent=user_agent)
    identity.participant = participant
    identity.entry_parameters = entry_parameters
    identity.save(update_fields=["participant", "entry_parameters"])
    return participant


def participant_touch(*, participant: Participant) -> None:
    """Record activity; inactivity timeouts count from the last touch.

    Timeouts are minutes long, so a touch less than TOUCH_INTERVAL old is left as it is:
    that saves a row write on nearly every request of an active session. The first touch
    after the start is always written, since it marks the first response.
    """
    now = timezone.now()
    if (
        participant.last_seen_at > participant.started_at
        and now - participant.last_seen_at < TOUCH_INTERVAL
    ):
        return
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
    participant.last_seen_at = now


def participant_finish(*, participant: Participant, status: str, reason: str = "") -> Participant:
    """End a session (completed, declined, screened out, timed out, excluded).

    Only an active session can end; finishing twice keeps the first outcome, so a retried
    request does not rewrite history.
    """
    updated = Participant.objects.filter(
        pk=participant.pk, status=Participant.Status.STARTED
    ).update(status=status, status_reason=reason[:300], finished_at=timezone.now())
    participant.refresh_from_db()
    if not updated and participant.status != status:
        raise Invalid({"status": f"This session has already ended ({participant.status})."})
    return participant


def participants_expire_stale() -> int:
    """Time out sessions past their study's limits: no first response, inactive, or too long.

    One conditional UPDATE per study, so a participant finishing at the same moment is never
    overwritten.
    """
    current = timezone.now()
    expired = 0
    for study in Study.objects.filter(participants__status=Participant.Status.STARTED).distinct():
        inactive_since = current - timedelta(minutes=study.inactivity_timeout_minutes)
        started_before = current - timedelta(minutes=study.session_timeout_minutes)
        silent_since = current - timedelta(minutes=study.first_response_timeout_minutes)
        expired += Participant.objects.filter(
            Q(last_seen_at__lt=inactive_since)
            | Q(started_at__lt=started_before)
            | Q(last_seen_at__lte=F("started_at"), started_at__lt=silent_since),
            study=study,
            status=Participant.Status.STARTED,
        ).update(
            status=Participant.Status.TIMED_OUT,
            status_reason="over the study's time limits",
            finished_at=current,
        )
    return expired
