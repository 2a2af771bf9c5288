"""Participant API of the elicitation chains: the current turn, its submission, autocomplete."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from elicitation.selectors import (
    NEW_TAGS_ESTIMATED_PER_TURN,
    participant_progress,
    tags_autocomplete,
    turn_view,
)
from elicitation.services.chains import (
    FLAG,
    STARS_OR_FLAG_ERROR,
    TurnSubmission,
    is_stars_or_flag,
    turn_claim,
    turn_report_audio_failure,
    turn_submit,
)
from moodlab.api.fields import IdKeyedDictField
from moodlab.studies.api.participant_base import ParticipantTrialApi
from moodlab.studies.api.throttles import PARTICIPANT_THROTTLES
from moodlab.studies.models import MAX_NEW_TAGS_PER_TURN, Participant
from moodlab.studies.scale import SCALE_MAX, SCALE_MIN
from moodlab.studies.services.recruitment import WAIT_SECONDS

MAX_RATINGS_PER_TURN = 100


class TagOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class TurnOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="turn.pk")
    index = serializers.IntegerField(source="turn.index")
    song_external_id = serializers.CharField(source="turn.song.external_id")
    audio_url = serializers.CharField(allow_null=True)
    # A song's clip bounds and length are optional: the whole file plays when unset.
    clip_start_seconds = serializers.FloatField(
        source="turn.song.clip_start_seconds", allow_null=True
    )
    clip_end_seconds = serializers.FloatField(source="turn.song.clip_end_seconds", allow_null=True)
    clip_seconds = serializers.FloatField(source="turn.song.clip_seconds", allow_null=True)
    frozen_tags = TagOutputSerializer(many=True)
    tags_to_rate = TagOutputSerializer(many=True)
    deadline = serializers.DateTimeField(source="turn.deadline")
    estimated_seconds = serializers.IntegerField(
        help_text="Time budget of this turn: the study's seconds per tag rated for each tag "
        f"to rate, and per new tag for {NEW_TAGS_ESTIMATED_PER_TURN} new tags."
    )


class ProgressOutputSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class TurnStateOutputSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="The session's turns are over: ask its state.")
    waiting = serializers.BooleanField(
        help_text="No chain is free right now (others hold them): ask again after a while."
    )
    retry_after_seconds = serializers.IntegerField()
    turn = TurnOutputSerializer(allow_null=True)
    progress = ProgressOutputSerializer()
    estimated_seconds_remaining = serializers.IntegerField(
        help_text="The turns left, each estimated as this one."
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": SCALE_MIN, "maximum": SCALE_MAX},
            {"enum": [FLAG]},
        ]
    }
)
class StarsOrFlagField(serializers.Field):
    """Stars on the scale, or the string "flag" for a tag that is a mistake or irrelevant."""

    default_error_messages = {"invalid": STARS_OR_FLAG_ERROR}

    def to_internal_value(self, data: Any) -> int | str:
        if not is_stars_or_flag(data):
            self.fail("invalid")
        return FLAG if data == FLAG else int(data)

    def to_representation(self, value: Any) -> Any:
        return value


class TurnSubmitInputSerializer(serializers.Serializer):
    turn = serializers.IntegerField(min_value=1, help_text="The id of the turn being answered.")
    ratings = IdKeyedDictField(
        child=StarsOrFlagField(), required=False, default=dict, max_keys=MAX_RATINGS_PER_TURN
    )
    new_tags = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
        max_length=MAX_NEW_TAGS_PER_TURN,
    )
    audio_played_seconds = serializers.FloatField(min_value=0, max_value=24 * 3600)


def _turn_state(participant: Participant) -> dict[str, Any]:
    turn = turn_claim(participant=participant)
    waiting = turn is None and participant.status == Participant.Status.STARTED
    view = turn_view(turn=turn, study=participant.study) if turn is not None else None
    progress = participant_progress(participant=participant)
    return {
        "done": turn is None and not waiting,
        "waiting": waiting,
        "retry_after_seconds": WAIT_SECONDS,
        "turn": view,
        "progress": progress,
        "estimated_seconds_remaining": (
            (progress["total"] - progress["done"]) * view.estimated_seconds if view else 0
        ),
    }


class TurnCurrentApi(ParticipantTrialApi):
    """The participant's current turn; claims the next chain when none is held."""

    phase = Participant.Phase.ELICITATION

    @extend_schema(responses=TurnStateOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(TurnStateOutputSerializer(_turn_state(self.participant)).data)


class TurnSubmitApi(ParticipantTrialApi):
    """Submit the current turn; answers with the next turn, or done. Safe to retry."""

    phase = Participant.Phase.ELICITATION

    throttle_classes = PARTICIPANT_THROTTLES
    answers_retries_after_completion = True

    @extend_schema(request=TurnSubmitInputSerializer, responses=TurnStateOutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = TurnSubmitInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        turn_submit(
            participant=self.participant,
            turn_id=data["turn"],
            submission=TurnSubmission(
                ratings=data["ratings"],
                new_tags=data["new_tags"],
                audio_played_seconds=data["audio_played_seconds"],
            ),
        )
        return Response(TurnStateOutputSerializer(_turn_state(self.participant)).data)


class TurnAudioFailedApi(ParticipantTrialApi):
    """The turn's clip failed to load twice: skip it, uncounted; answers the next turn."""

    phase = Participant.Phase.ELICITATION
    throttle_classes = PARTICIPANT_THROTTLES

    class InputSerializer(serializers.Serializer):
        turn = serializers.IntegerField(min_value=1, help_text="The id of the turn to skip.")

    @extend_schema(request=InputSerializer, responses=TurnStateOutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        turn_report_audio_failure(
            participant=self.participant, turn_id=serializer.validated_data["turn"]
        )
        return Response(TurnStateOutputSerializer(_turn_state(self.participant)).data)


class TagSuggestionOutputSerializer(serializers.Serializer):
    text = serializers.CharField()
    key = serializers.CharField()
    chains = serializers.IntegerField()


class TagAutocompleteApi(ParticipantTrialApi):
    """Tags already used in the participant's study and locale, by prefix (10 at most)."""

    phase = Participant.Phase.ELICITATION

    @extend_schema(
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="What was typed so far")],
        responses=TagSuggestionOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        prefix = request.query_params.get("q", "")[:100]
        suggestions = tags_autocomplete(locale=self.participant.locale, prefix=prefix)
        return Response(TagSuggestionOutputSerializer(suggestions, many=True).data)
