from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from moodlab.studies.models import Participant, Song, Study, StudyLocale
from moodlab.studies.services.participants import MAX_ENTRY_PARAMETER_LENGTH, MAX_ENTRY_PARAMETERS


class LocaleOutputSerializer(serializers.ModelSerializer[StudyLocale]):
    language = serializers.CharField(read_only=True)

    class Meta:
        model = StudyLocale
        fields = ["code", "name", "language", "direction", "is_active", "recruiter_id_param"]


class StudyOutputSerializer(serializers.ModelSerializer[Study]):
    locales = LocaleOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Study
        exclude = ["id", "researchers"]


class SongOutputSerializer(serializers.ModelSerializer[Song]):
    country = serializers.CharField(source="country.code")

    class Meta:
        model = Song
        fields = [
            "external_id",
            "title",
            "artist",
            "country",
            "duration_seconds",
            "clip_start_seconds",
            "clip_end_seconds",
        ]


class ParticipantEnterInputSerializer(serializers.Serializer[None]):
    study = serializers.SlugField()
    locale = serializers.CharField(max_length=10)
    recruiter_participant_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    entry_parameters = serializers.DictField(
        child=serializers.CharField(max_length=MAX_ENTRY_PARAMETER_LENGTH, allow_blank=True),
        required=False,
        default=dict,
    )

    def validate_entry_parameters(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ENTRY_PARAMETERS:
            raise serializers.ValidationError(f"At most {MAX_ENTRY_PARAMETERS} entry parameters.")
        return value


class ParticipantOutputSerializer(serializers.ModelSerializer[Participant]):
    study: serializers.SlugRelatedField[Study] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    locale: serializers.SlugRelatedField[StudyLocale] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Participant
        fields = ["public_id", "study", "locale", "phase", "status", "started_at", "finished_at"]


class ParticipantSessionOutputSerializer(ParticipantOutputSerializer):
    """Only the answer to the entry request carries the secret token."""

    token = serializers.CharField(
        read_only=True,
        help_text="The session's secret: send it as `Authorization: Participant <token>`. "
        "A later entry with the same panel id issues a new one and this one stops working.",
    )

    class Meta(ParticipantOutputSerializer.Meta):
        fields = [*ParticipantOutputSerializer.Meta.fields, "token"]


class PreflightCheckSerializer(serializers.Serializer[Mapping[str, object]]):
    title = serializers.CharField()
    level = serializers.ChoiceField(choices=["blocker", "warning", "ok"])
    detail = serializers.CharField()


class PreflightOutputSerializer(serializers.Serializer[Mapping[str, object]]):
    """The pre-flight checklist of a phase move: blockers refuse it, warnings need confirm."""

    phase = serializers.CharField()
    blockers = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
    checks = PreflightCheckSerializer(many=True)
    final = serializers.ListField(child=serializers.CharField())
