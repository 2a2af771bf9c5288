"""Where a participant is in their session: which steps stand between them and the trials.

The trial APIs of both phases ask `require_ready_for_trials`, so a participant who skips
the consent page or a prescreen by calling the API directly is refused (StepsPending),
not given data.
"""

from __future__ import annotations

from moodlab.errors import SessionEnded, StepsPending
from moodlab.studies.models import Participant, PrescreenResult

PRESCREEN_STEPS = (
    (PrescreenResult.Kind.VOLUME, "volume_calibration"),
    (PrescreenResult.Kind.HEADPHONES, "headphone_check"),
    (PrescreenResult.Kind.VOCABULARY, "vocabulary_check"),
)


def pending_steps(participant: Participant) -> list[str]:
    """Steps still to do before trials, in page order: consent, then each enabled prescreen.

    Steps are named as in the participant API's state (the study flag of each prescreen).
    """
    study = participant.study
    steps: list[str] = []
    if study.ask_consent and participant.consented_at is None:
        steps.append("consent")
    enabled = [(kind, step) for kind, step in PRESCREEN_STEPS if getattr(study, step)]
    if enabled:  # most trial requests come from studies without prescreens: no query then
        passed = set(
            participant.prescreen_results.filter(passed=True).values_list("kind", flat=True)
        )
        steps += [step for kind, step in enabled if kind not in passed]
    return steps


def require_ready_for_trials(participant: Participant, *, allow_completed: bool = False) -> None:
    """Refuse trial requests of ended sessions or of participants who skipped a step.

    `allow_completed` lets a submission endpoint answer a network retry of the very last
    submission, which arrives after that submission completed the session.
    """
    allowed = {Participant.Status.STARTED} | (
        {Participant.Status.COMPLETED} if allow_completed else set()
    )
    if participant.status not in allowed:
        raise session_ended(participant)
    steps = pending_steps(participant)
    if steps:
        raise StepsPending(steps)


def session_ended(participant: Participant) -> SessionEnded:
    """The refusal of any step or trial request once the session is over."""
    return SessionEnded(f"This session has ended ({participant.get_status_display()}).")
