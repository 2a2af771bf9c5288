"""The participant's steps around the trials: state, consent, prescreens, questionnaire.

Each POST answers the participant's new state (or a check's result with it), so the page
needs no second request to learn where to go next.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import translation
from django_countries.serializer_fields import CountryField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from moodlab.api.schema import ErrorSerializer
from moodlab.media import audio_response
from moodlab.studies.api.participant_base import ParticipantApi
from moodlab.studies.api.throttles import PARTICIPANT_THROTTLES
from moodlab.studies.models import Participant, PrescreenResult
from moodlab.studies.services.prescreens import (
    HEADPHONE_CHOICES,
    VocabularyQuestion,
    headphone_positions,
    headphones_check,
    prescreen_audio,
    prescreen_audio_url,
    vocabulary_check,
    vocabulary_items_for,
    volume_record,
)
from moodlab.studies.services.steps import (
    COMPLETE,
    ENDED,
    QUESTIONNAIRE,
    STEP_ORDER,
    Gender,
    MusicalTraining,
    ParticipantExit,
    ParticipantState,
    consent_record,
    participant_state,
    questionnaire_submit,
    require_step_enabled,
    require_step_open,
)

# A serializer's field of any kind, as `Serializer.fields` holds them.
AnyField = serializers.Field[Any, Any, Any, Any]

STATE_RESPONSES: dict[int, Any] = {
    400: OpenApiResponse(ErrorSerializer, description="Bad values, or a step the study lacks."),
    403: OpenApiResponse(
        ErrorSerializer, description="Earlier steps pending, or the session has ended."
    ),
    409: OpenApiResponse(ErrorSerializer, description="Answered before with other values."),
}


class ExitOutputSerializer(serializers.Serializer[ParticipantExit]):
    kind = serializers.ChoiceField(choices=Participant.Status.choices)
    code = serializers.CharField(help_text="The recruiter's code; may be empty.")
    redirect_url = serializers.CharField(
        allow_null=True, help_text="The recruiter's return link with {code} filled in."
    )


class ParticipantStateOutputSerializer(serializers.Serializer[ParticipantState]):
    public_id = serializers.UUIDField(source="participant.public_id")
    study = serializers.CharField(source="participant.study.slug")
    locale = serializers.CharField(source="participant.locale.code")
    language = serializers.CharField(source="participant.locale.language")
    direction = serializers.CharField(source="participant.locale.direction")
    phase = serializers.ChoiceField(source="participant.phase", choices=Participant.Phase.choices)
    status = serializers.ChoiceField(
        source="participant.status", choices=Participant.Status.choices
    )
    steps = serializers.ListField(
        child=serializers.ChoiceField(choices=STEP_ORDER), help_text="Enabled, in page order."
    )
    next_step = serializers.ChoiceField(choices=[*STEP_ORDER, COMPLETE, ENDED])
    consent_text = serializers.CharField(help_text='"" means: show the default text.')
    exit = ExitOutputSerializer(
        allow_null=True, help_text="Set exactly when next_step is complete or ended."
    )
    volume = serializers.FloatField(
        allow_null=True, help_text="The level set at calibration (0 to 1); null before."
    )


class CheckOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    passed = serializers.BooleanField()
    score = serializers.FloatField(
        help_text="Right answers (headphones), or the share of right answers (vocabulary)."
    )
    state = ParticipantStateOutputSerializer()


class ParticipantStepApi(ParticipantApi):
    """Only POSTs count against the submission throttles."""

    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method != "POST":
            return []
        return [throttle() for throttle in PARTICIPANT_THROTTLES]

    def state_response(self) -> Response:
        return Response(ParticipantStateOutputSerializer(participant_state(self.participant)).data)

    def check_response(self, result: PrescreenResult) -> Response:
        state = participant_state(self.participant)
        return Response(
            CheckOutputSerializer(
                {"passed": result.passed, "score": result.score, "state": state}
            ).data
        )


class ParticipantStateApi(ParticipantStepApi):
    """Where the participant stands and which page comes next."""

    @extend_schema(
        responses=ParticipantStateOutputSerializer, summary="Get the participant's state"
    )
    def get(self, request: Request) -> Response:
        return self.state_response()


class ParticipantConsentApi(ParticipantStepApi):
    """Agree (the prescreens open) or decline (the session ends, declined)."""

    class InputSerializer(serializers.Serializer[None]):
        agree = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer,
        responses={200: ParticipantStateOutputSerializer, **STATE_RESPONSES},
        summary="Answer the consent form",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent_record(participant=self.participant, agree=serializer.validated_data["agree"])
        return self.state_response()


class AudioUrlOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    audio_url = serializers.CharField(help_text="Signed; valid for two hours.")


class ParticipantVolumeApi(ParticipantStepApi):
    """A calibration noise to set a comfortable volume, and the level the participant chose."""

    class InputSerializer(serializers.Serializer[None]):
        level = serializers.FloatField(min_value=0.0, max_value=1.0)

    @extend_schema(
        responses={200: AudioUrlOutputSerializer, **STATE_RESPONSES},
        summary="Get the calibration sound",
    )
    def get(self, request: Request) -> Response:
        require_step_open(self.participant, "volume_calibration")
        url = prescreen_audio_url(participant=self.participant, kind=PrescreenResult.Kind.VOLUME)
        return Response(AudioUrlOutputSerializer({"audio_url": url}).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: ParticipantStateOutputSerializer, **STATE_RESPONSES},
        summary="Record the volume level",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        volume_record(participant=self.participant, level=serializer.validated_data["level"])
        return self.state_response()


class HeadphoneTrialOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    index = serializers.IntegerField()
    audio_url = serializers.CharField(help_text="Signed; valid for two hours.")


class ParticipantHeadphonesApi(ParticipantStepApi):
    """Trials of three sounds each; the participant names the one that differs. One attempt."""

    class OutputSerializer(serializers.Serializer[Mapping[str, object]]):
        trials = HeadphoneTrialOutputSerializer(many=True)
        choices = serializers.IntegerField(help_text="Sounds per trial; answers are 1 to this.")
        pass_mark = serializers.IntegerField(help_text="Right answers needed to pass.")

    class InputSerializer(serializers.Serializer[None]):
        answers = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=HEADPHONE_CHOICES),
            max_length=100,
            help_text="The odd sound's position (1 to 3), one per trial, in trial order.",
        )

    @extend_schema(
        responses={200: OutputSerializer, **STATE_RESPONSES}, summary="Get the headphone test"
    )
    def get(self, request: Request) -> Response:
        participant = self.participant
        require_step_open(participant, "headphone_check")
        trials = [
            {
                "index": index,
                "audio_url": prescreen_audio_url(
                    participant=participant, kind=PrescreenResult.Kind.HEADPHONES, index=index
                ),
            }
            for index in range(len(headphone_positions(participant)))
        ]
        return Response(
            self.OutputSerializer(
                {
                    "trials": trials,
                    "choices": HEADPHONE_CHOICES,
                    "pass_mark": participant.study.headphone_pass_count,
                }
            ).data
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: CheckOutputSerializer, **STATE_RESPONSES},
        summary="Answer the headphone test",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = headphones_check(
            participant=self.participant, answers=serializer.validated_data["answers"]
        )
        return self.check_response(result)


class VocabularyItemOutputSerializer(serializers.Serializer[VocabularyQuestion]):
    id = serializers.CharField()
    word = serializers.CharField()


class VocabularyAnswerSerializer(serializers.Serializer[None]):
    id = serializers.CharField(max_length=32)
    is_word = serializers.BooleanField()


class ParticipantVocabularyApi(ParticipantStepApi):
    """Real words and pseudowords of the locale's language; the participant tells them apart."""

    class OutputSerializer(serializers.Serializer[Mapping[str, object]]):
        items = VocabularyItemOutputSerializer(many=True)
        pass_ratio = serializers.FloatField(help_text="Share of right answers needed to pass.")

    class InputSerializer(serializers.Serializer[None]):
        answers = serializers.ListField(child=VocabularyAnswerSerializer(), max_length=200)

        def validate_answers(self, value: list[dict[str, Any]]) -> dict[str, bool]:
            answers = {answer["id"]: answer["is_word"] for answer in value}
            if len(answers) != len(value):
                raise serializers.ValidationError("Answer each item only once.")
            return answers

    @extend_schema(
        responses={200: OutputSerializer, **STATE_RESPONSES}, summary="Get the vocabulary test"
    )
    def get(self, request: Request) -> Response:
        participant = self.participant
        require_step_open(participant, "vocabulary_check")
        return Response(
            self.OutputSerializer(
                {
                    "items": vocabulary_items_for(participant),
                    "pass_ratio": participant.study.vocabulary_pass_ratio,
                }
            ).data
        )

    @extend_schema(
        request=InputSerializer,
        responses={200: CheckOutputSerializer, **STATE_RESPONSES},
        summary="Answer the vocabulary test",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = vocabulary_check(
            participant=self.participant, answers=serializer.validated_data["answers"]
        )
        return self.check_response(result)


class QuestionnaireInputSerializer(serializers.Serializer[None]):
    """The closing questionnaire; GET me/questionnaire/ describes these fields to the page."""

    age = serializers.IntegerField(min_value=16, max_value=110, allow_null=True, default=None)
    gender = serializers.ChoiceField(choices=Gender.choices)
    country = CountryField(help_text="Where the participant lives, ISO 3166 alpha-2.")
    native_language = serializers.CharField(max_length=60)
    musical_training = serializers.ChoiceField(choices=MusicalTraining.choices)
    technical_problems = serializers.CharField(max_length=1000, allow_blank=True, default="")


def _field_type(field: AnyField) -> str:
    if isinstance(field, CountryField):
        return "country"
    if isinstance(field, serializers.ChoiceField):
        return "choice"
    return "integer" if isinstance(field, serializers.IntegerField) else "text"


class ChoiceOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]


class QuestionnaireFieldOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["integer", "choice", "country", "text"])
    required = serializers.BooleanField()  # type: ignore[assignment]
    choices = ChoiceOutputSerializer(many=True, allow_null=True)


class ParticipantQuestionnaireApi(ParticipantStepApi):
    """The closing questionnaire, once the phase's trials are done."""

    class OutputSerializer(serializers.Serializer[Mapping[str, object]]):
        fields = QuestionnaireFieldOutputSerializer(many=True)  # type: ignore[assignment]

    @extend_schema(
        responses={200: OutputSerializer, 400: STATE_RESPONSES[400]},
        summary="Get the questionnaire's fields",
    )
    def get(self, request: Request) -> Response:
        participant = self.participant
        require_step_enabled(participant.study, QUESTIONNAIRE)
        # Labels in the participant's language, whatever the browser asks for; country
        # names are translated when the fields are built.
        with translation.override(participant.locale.language):
            fields = QuestionnaireInputSerializer().fields
            return Response(
                self.OutputSerializer(
                    {
                        "fields": [
                            {
                                "name": name,
                                "type": _field_type(field),
                                "required": field.required,
                                "choices": _choices(field),
                            }
                            for name, field in fields.items()
                        ]
                    }
                ).data
            )

    @extend_schema(
        request=QuestionnaireInputSerializer,
        responses={200: ParticipantStateOutputSerializer, **STATE_RESPONSES},
        summary="Answer the questionnaire",
    )
    def post(self, request: Request) -> Response:
        serializer = QuestionnaireInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        questionnaire_submit(participant=self.participant, answers=dict(serializer.validated_data))
        return self.state_response()


def _choices(field: AnyField) -> list[dict[str, str]] | None:
    if not isinstance(field, serializers.ChoiceField):
        return None
    return [{"value": value, "label": str(label)} for value, label in field.choices.items()]


class ParticipantPrescreenAudioApi(APIView):
    """A prescreen sound by signed link: audio elements cannot send the participant header."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "audio/mp4"): OpenApiTypes.BINARY,
            (206, "audio/mp4"): OpenApiTypes.BINARY,
            404: OpenApiResponse(ErrorSerializer, description="Bad or expired signature."),
        },
        summary="Get a prescreen sound",
    )
    def get(self, request: Request, signed: str) -> HttpResponse | StreamingHttpResponse:
        sound = prescreen_audio(signed=signed)
        return audio_response(
            request.headers,
            source=io.BytesIO(sound),
            size=len(sound),
            content_type="audio/mp4",
            cache_control="private, max-age=3600, immutable",
            etag=hashlib.sha256(sound).hexdigest()[:32],
        )
