"""The bases of the participant endpoints: who the participant is, and (trial endpoints,
both phases) whether they may see trials yet."""

from __future__ import annotations

from typing import Any, cast

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.views import APIView

from moodlab.studies.api.permissions import IsParticipant, ParticipantAuthentication
from moodlab.studies.models import Participant
from moodlab.studies.services.flow import require_ready_for_trials
from moodlab.studies.services.participants import participant_touch


class ParticipantApi(APIView):
    """The base of every participant endpoint: who the participant is, and their activity."""

    authentication_classes = [ParticipantAuthentication]
    permission_classes = [IsParticipant]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.check_participant()
        participant_touch(participant=self.participant)  # inactivity timeouts count from here

    def check_participant(self) -> None:
        """Subclasses refuse here what the participant may not do yet."""

    @property
    def participant(self) -> Participant:
        return cast(Participant, self.request.auth)  # ensured by IsParticipant


class ParticipantTrialApi(ParticipantApi):
    """Subclasses name the `phase` whose participants they serve."""

    phase: Participant.Phase
    # Submission endpoints set this: their services replay a retried last submission, and
    # refuse anything new, for a session that submission completed.
    answers_retries_after_completion = False

    def check_participant(self) -> None:
        if self.participant.phase != self.phase:
            raise PermissionDenied(
                detail=f"This session is for the {self.participant.get_phase_display()} phase.",
                code="wrong_phase",
            )
        require_ready_for_trials(
            self.participant, allow_completed=self.answers_retries_after_completion
        )
