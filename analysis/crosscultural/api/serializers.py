from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analysis.crosscultural.computation import PARAM_BOUNDS, AnalysisParams
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet

_DEFAULTS = AnalysisParams()


def _glosses(name: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        default=list(getattr(_DEFAULTS, name)),
        help_text="English glosses, matched case-insensitively against each term's gloss.",
    )


class AnalysisParamsInputSerializer(serializers.Serializer):
    valence_positive = _glosses("valence_positive")
    valence_negative = _glosses("valence_negative")
    arousal_positive = _glosses("arousal_positive")
    arousal_negative = _glosses("arousal_negative")
    reliability_threshold = serializers.FloatField(
        default=_DEFAULTS.reliability_threshold,
        **PARAM_BOUNDS["reliability_threshold"].field_kwargs(),
    )
    split_half_repetitions = serializers.IntegerField(
        default=_DEFAULTS.split_half_repetitions,
        **PARAM_BOUNDS["split_half_repetitions"].field_kwargs(),
    )
    seed = serializers.IntegerField(default=_DEFAULTS.seed, **PARAM_BOUNDS["seed"].field_kwargs())


class AnalysisStartInputSerializer(serializers.Serializer):
    snapshot_version = serializers.CharField(
        max_length=40, required=False, default="", allow_blank=True
    )
    params = AnalysisParamsInputSerializer(required=False, default=dict)


class AnalysisOutputSerializer(serializers.ModelSerializer):
    study: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    source_label = serializers.CharField(read_only=True)

    class Meta:
        model = CrossCulturalAnalysis
        fields = [
            "id",
            "study",
            "snapshot_version",
            "source_label",
            "params",
            "status",
            "stage",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class AnalysisDetailOutputSerializer(AnalysisOutputSerializer):
    results = serializers.JSONField(
        read_only=True,
        help_text=(
            "counts, locales, params, reliability, mood_space, across_locales, "
            "equivalent_terms, model_agreement, source; null until the run succeeds."
        ),
    )

    class Meta(AnalysisOutputSerializer.Meta):
        fields = [*AnalysisOutputSerializer.Meta.fields, "results"]


class PredictionSetUploadInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, default="", allow_blank=True)
    file = serializers.FileField(
        help_text="CSV with columns song (external id), locale, term (key or label), score."
    )


class PredictionSetOutputSerializer(serializers.ModelSerializer):
    study: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    uploaded_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = PredictionSet
        fields = ["id", "study", "name", "description", "row_count", "uploaded_by", "created_at"]
