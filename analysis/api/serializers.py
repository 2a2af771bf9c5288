from __future__ import annotations

from rest_framework import serializers

from analysis.models import CellAggregate, Snapshot


class SnapshotOutputSerializer(serializers.ModelSerializer):
    study: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    files = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = [
            "study",
            "version",
            "published",
            "created_at",
            "completed_at",
            "files",
            "manifest",
        ]

    def get_files(self, snapshot: Snapshot) -> list[str]:
        return ["manifest.json", *sorted(snapshot.manifest.get("files", {}))]


class MeanRatingFilterSerializer(serializers.Serializer):
    locale = serializers.CharField(required=False, help_text="Locale code, e.g. ko-KR.")
    song = serializers.CharField(required=False, help_text="Song id (external id).")
    term = serializers.CharField(required=False, help_text="Term key in the locale's language.")


class MeanRatingOutputSerializer(serializers.ModelSerializer):
    locale = serializers.CharField(source="locale.code")
    song = serializers.CharField(source="song.external_id")
    term = serializers.CharField(source="term.key")
    term_gloss = serializers.CharField(source="term.label_en", allow_null=True)

    class Meta:
        model = CellAggregate
        fields = [
            "locale",
            "song",
            "term",
            "term_gloss",
            "n",
            "mean",
            "sd",
            "median",
            "sem",
            "updated_at",
        ]
