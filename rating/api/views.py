"""The participant's rating API: current trial, submit a trial, finish the phase."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from moodlab.api.fields import IdKeyedDictField
from moodlab.api.schema import ErrorSerializer
from moodlab.studies.api.participant_base import ParticipantTrialApi
from moodlab.studies.api.throttles import PARTICIPANT_THROTTLES
from moodlab.studies.models import Participant, Song
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN
from moodlab.studies.services.recruitment import WAIT_SECONDS
from moodlab.studies.services.song_audio import song_audio_url
from rating.models import Trial
from rating.selectors import ScalePoint, TermView, TrialView, trial_view
from rating.services import (
    rating_session_finish,
    trial_report_audio_failure,
    trial_serve_or_wait,
    trial_submit,
)
from rating.timing import SIMULATED_CLOCK_HEADER


class RatingApi(ParticipantTrialApi):
    phase = Participant.Phase.RATING

    def current_trial(self) -> TrialView:
        """The trial to rate now (allocated if need be); none once the session has ended."""
        participant = self.participant
        if participant.status != Participant.Status.STARTED:
            return trial_view(participant=participant, trial=None)
        trial, waiting = trial_serve_or_wait(participant=participant)
        return trial_view(participant=participant, trial=trial, waiting=waiting)


class TermSerializer(serializers.Serializer[TermView]):
    id = serializers.IntegerField()
    # DRF's metaclass turns declared fields into entries of `fields`; mypy sees Field.label.
    label = serializers.CharField(help_text="In the participant's language.")  # type: ignore[assignment]
    gloss = serializers.CharField(help_text="English gloss.")


class ScalePointSerializer(serializers.Serializer[ScalePoint]):
    value = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]


class ProgressSerializer(serializers.Serializer[Mapping[str, int]]):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class SongSerializer(serializers.Serializer[Song]):
    external_id = serializers.CharField()
    audio_url = serializers.SerializerMethodField()
    clip_start_seconds = serializers.FloatField(allow_null=True)
    clip_end_seconds = serializers.FloatField(allow_null=True)
    clip_seconds = serializers.FloatField(
        allow_null=True, help_text="How long the clip must play before the answer is accepted."
    )

    def get_audio_url(self, song: Song) -> str | None:
        return song_audio_url(song)


class TrialOutputSerializer(serializers.Serializer[TrialView]):
    id = serializers.IntegerField(source="trial.pk")
    position = serializers.IntegerField(source="trial.position")
    song = SongSerializer(source="trial.song")
    upcoming_audio_url = serializers.SerializerMethodField(
        help_text="The clip likely to come next, to fetch while this one is rated (a hint)."
    )
    terms = TermSerializer(many=True)
    scale = ScalePointSerializer(many=True)
    estimated_seconds = serializers.IntegerField(
        source="seconds_per_trial", help_text="Time budget of this trial (per term × terms)."
    )

    def get_upcoming_audio_url(self, view: TrialView) -> str | None:
        upcoming = view.trial.upcoming_song if view.trial is not None else None
        return song_audio_url(upcoming) if upcoming is not None else None


class RatingTrialCurrentOutputSerializer(serializers.Serializer[TrialView]):
    trial = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    finished = serializers.BooleanField(help_text="Nothing left to rate: call finish.")
    waiting = serializers.BooleanField(
        help_text="No song is free right now (others hold them): ask again after a while."
    )
    retry_after_seconds = serializers.SerializerMethodField()
    session_ended = serializers.BooleanField(
        help_text="The session ended meanwhile (the study filled up): ask for its state."
    )
    estimated_seconds_remaining = serializers.IntegerField()

    @extend_schema_field(TrialOutputSerializer(allow_null=True))
    def get_trial(self, view: TrialView) -> dict[str, object] | None:
        return None if view.trial is None else TrialOutputSerializer(view).data

    def get_retry_after_seconds(self, view: TrialView) -> int:
        return WAIT_SECONDS

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, view: TrialView) -> dict[str, int]:
        return {"done": view.done, "total": view.total}


class RatingTrialCurrentApi(RatingApi):
    """The trial to rate now; the first call starts the session (draws the terms)."""

    @extend_schema(
        responses={200: RatingTrialCurrentOutputSerializer, 403: OpenApiResponse(ErrorSerializer)},
        summary="Get the current rating trial",
    )
    def get(self, request: Request) -> Response:
        return Response(RatingTrialCurrentOutputSerializer(self.current_trial()).data)


class RatingTrialSubmitApi(RatingApi):
    """Submit every rating of a trial at once; an identical retry gets the same answer.

    The answer carries the next trial, as GET trial/ would give it, so the participant's page
    goes on without another request.
    """

    throttle_classes = PARTICIPANT_THROTTLES
    answers_retries_after_completion = True

    class RatingTrialSubmitInputSerializer(serializers.Serializer[None]):
        ratings = IdKeyedDictField(
            child=serializers.IntegerField(min_value=SCALE_MIN, max_value=SCALE_MAX),
            allow_empty=False,
            # No trial has more terms than the study draws per participant.
            max_keys=lambda field: field.context["participant"].study.terms_per_participant,
            help_text=(
                f"Term id to value, {SCALE_MIN} (not expressing at all) to {SCALE_MAX} "
                '(extremely): {"12": 4, ...}.'
            ),
        )
        audio_played_seconds = serializers.FloatField(min_value=0)
        response_seconds = serializers.FloatField(
            min_value=0,
            max_value=24 * 3600,
            required=False,
            help_text="Seconds from when the trial was shown to the press of submit, as the "
            "page measured them; the server's own elapsed time caps it.",
        )

    class RatingTrialSubmitOutputSerializer(serializers.ModelSerializer[Trial]):
        status = serializers.CharField(help_text="Always submitted.")
        ratings = serializers.SerializerMethodField()
        next = serializers.SerializerMethodField(
            help_text="What GET /rating/trial/ now answers: the next trial, or finished."
        )

        class Meta:
            model = Trial
            fields = [
                "id",
                "position",
                "status",
                "submitted_at",
                "audio_played_seconds",
                "response_seconds",
                "ratings",
                "next",
            ]

        def get_ratings(self, trial: Trial) -> dict[str, int]:
            # The service stores exactly these or answers a conflict: no need to read them back.
            return {str(term): value for term, value in self.context["ratings"].items()}

        @extend_schema_field(RatingTrialCurrentOutputSerializer)
        def get_next(self, trial: Trial) -> dict[str, object]:
            return RatingTrialCurrentOutputSerializer(self.context["next"]).data

    @extend_schema(
        request=RatingTrialSubmitInputSerializer,
        responses={
            200: RatingTrialSubmitOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad values; nothing stored."),
            404: OpenApiResponse(ErrorSerializer, description="Not a trial of this session."),
            409: OpenApiResponse(
                ErrorSerializer, description="Submitted before with other values, or released."
            ),
        },
        summary="Submit the ratings of a trial",
    )
    def post(self, request: Request, trial_id: int) -> Response:
        participant = self.participant
        serializer = self.RatingTrialSubmitInputSerializer(
            data=request.data, context={"participant": participant}
        )
        serializer.is_valid(raise_exception=True)
        ratings = serializer.validated_data["ratings"]
        trial = trial_submit(
            participant=participant,
            trial_id=trial_id,
            ratings=ratings,
            audio_played_seconds=serializer.validated_data["audio_played_seconds"],
            response_seconds=serializer.validated_data.get("response_seconds"),
            simulated_clock=request.headers.get(SIMULATED_CLOCK_HEADER, ""),
        )
        # Served after the submission committed: an acknowledged rating never waits on,
        # or rolls back with, the allocation of the next trial.
        return Response(
            self.RatingTrialSubmitOutputSerializer(
                trial, context={"ratings": ratings, "next": self.current_trial()}
            ).data
        )


class RatingTrialAudioFailedApi(RatingApi):
    """The trial's clip failed to load twice: skip it, uncounted; answers the next trial."""

    throttle_classes = PARTICIPANT_THROTTLES

    @extend_schema(
        request=None,
        responses={
            200: RatingTrialCurrentOutputSerializer,
            404: OpenApiResponse(ErrorSerializer, description="Not a trial of this session."),
            409: OpenApiResponse(ErrorSerializer, description="Submitted or released before."),
        },
        summary="Skip a trial whose audio failed",
    )
    def post(self, request: Request, trial_id: int) -> Response:
        trial_report_audio_failure(participant=self.participant, trial_id=trial_id)
        return Response(RatingTrialCurrentOutputSerializer(self.current_trial()).data)


class RatingSessionFinishApi(RatingApi):
    """End the rating phase once every trial is done."""

    answers_retries_after_completion = True

    class RatingSessionFinishOutputSerializer(serializers.Serializer[Participant]):
        public_id = serializers.UUIDField()
        status = serializers.CharField(help_text="completed")
        finished_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses={
            200: RatingSessionFinishOutputSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Trials remain."),
        },
        summary="Finish the rating phase",
    )
    def post(self, request: Request) -> Response:
        participant = self.participant
        return Response(
            self.RatingSessionFinishOutputSerializer(
                rating_session_finish(participant=participant)
            ).data
        )
