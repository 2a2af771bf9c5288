"""The base of every trial endpoint, in both phases: who the participant is, and whether
they may see trials yet."""

from __future__ import annotations

from typing import Any, cast

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.views import APIView

from moodlab.studies.api.permissions import IsParticipant, ParticipantAuthentication
from moodlab.studies.flow import require_ready_for_trials
from moodlab.studies.models import Participant
from moodlab.studies.services import participant_touch


class ParticipantTrialApi(APIView):
    """Subclasses name the `phase` whose participants they serve."""

    authentication_classes = [ParticipantAuthentication]
    permission_classes = [IsParticipant]
    phase: Participant.Phase
    # Submission endpoints set this: their services replay a retried last submission, and
    # refuse anything new, for a session that submission completed.
    answers_retries_after_completion = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.participant.phase != self.phase:
            raise PermissionDenied(
                detail=f"This session is for the {self.participant.get_phase_display()} phase.",
                code="wrong_phase",
            )
        require_ready_for_trials(
            self.participant, allow_completed=self.answers_retries_after_completion
        )
        participant_touch(participant=self.participant)  # inactivity timeouts count from here

    @property
    def participant(self) -> Participant:
        return cast(Participant, self.request.auth)  # ensured by IsParticipant
