from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analysis.models import ApiToken, CellAggregate, Snapshot


class _ManifestColumn(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField(help_text="Arrow type, e.g. string, int8, double.")
    description = serializers.CharField()


class _ManifestTable(serializers.Serializer):
    description = serializers.CharField()
    rows = serializers.IntegerField()
    rows_per_locale = serializers.DictField(child=serializers.IntegerField())
    columns = _ManifestColumn(many=True)


class _ManifestFile(serializers.Serializer):
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField()


class _ManifestStudy(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    parameters = serializers.DictField(help_text="The study's parameters when it was exported.")


class _ManifestQualityControl(serializers.Serializer):
    run_id = serializers.IntegerField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    rules = serializers.ListField(
        child=serializers.DictField(), help_text="[{name, version, title, params, enabled}]"
    )


class SnapshotManifest(serializers.Serializer):
    """What manifest.json holds (documentation of the stored JSON; it is sent as stored)."""

    study = _ManifestStudy()
    locales = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    software_version = serializers.CharField()
    pseudonyms = serializers.CharField()
    quality_control = _ManifestQualityControl()
    tables = serializers.DictField(child=_ManifestTable(), help_text="By table name.")
    files = serializers.DictField(child=_ManifestFile(), help_text="By file name.")


@extend_schema_field(SnapshotManifest)
class ManifestField(serializers.JSONField):
    """The stored manifest as is, typed in the OpenAPI schema by SnapshotManifest."""


class SnapshotOutputSerializer(serializers.ModelSerializer):
    study: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    files = serializers.SerializerMethodField()
    manifest = ManifestField(read_only=True)

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


class CatalogueCountsOutputSerializer(serializers.Serializer):
    participants = serializers.IntegerField()
    songs = serializers.IntegerField()
    ratings = serializers.IntegerField()
    mean_ratings = serializers.IntegerField()


class CatalogueLinksOutputSerializer(serializers.Serializer):
    snapshot = serializers.URLField(help_text="This snapshot in the API (manifest, files).")
    files = serializers.DictField(child=serializers.URLField(), help_text="By file name.")
    card = serializers.URLField(help_text="The dataset card (Markdown).")
    croissant = serializers.URLField(help_text="Croissant 1.0 JSON-LD metadata.")
    citation = serializers.URLField(help_text="CITATION.cff")
    bibtex = serializers.URLField()


class CatalogueSnapshotOutputSerializer(serializers.ModelSerializer):
    """One published snapshot as the catalogue lists it, for the API and the /data/ page."""

    study: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    title = serializers.SerializerMethodField()
    date = serializers.DateTimeField(source="completed_at")
    licence = serializers.CharField(source="study.licence")
    doi = serializers.CharField(source="study.doi")
    locales = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Snapshot
        fields = [
            "study",
            "title",
            "version",
            "date",
            "licence",
            "doi",
            "locales",
            "counts",
            "links",
        ]

    def get_title(self, snapshot: Snapshot) -> str:
        return snapshot.study.citation_title or snapshot.study.title

    def get_locales(self, snapshot: Snapshot) -> list[str]:
        return list(snapshot.manifest.get("locales", []))

    @extend_schema_field(CatalogueCountsOutputSerializer)
    def get_counts(self, snapshot: Snapshot) -> dict[str, int]:
        tables = snapshot.manifest.get("tables", {})
        return {
            name: tables.get(table, {}).get("rows", 0)
            for name, table in [
                ("participants", "participants"),
                ("songs", "songs"),
                ("ratings", "ratings"),
                ("mean_ratings", "mean_ratings"),
            ]
        }

    @extend_schema_field(CatalogueLinksOutputSerializer)
    def get_links(self, snapshot: Snapshot) -> dict[str, Any]:
        request = self.context["request"]
        where = {"study_slug": snapshot.study.slug, "version": snapshot.version}

        def file(name: str) -> str:
            return request.build_absolute_uri(
                reverse("v1:snapshot-file", kwargs={**where, "file_name": name})
            )

        names = ["manifest.json", *sorted(snapshot.manifest.get("files", {}))]
        return {
            "snapshot": request.build_absolute_uri(reverse("v1:snapshot-detail", kwargs=where)),
            "files": {name: file(name) for name in names},
            "card": file("DATASET_CARD.md"),
            "croissant": request.build_absolute_uri(reverse("v1:snapshot-croissant", kwargs=where)),
            "citation": file("CITATION.cff"),
            "bibtex": file("CITATION.bib"),
        }


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


class ApiTokenInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="e.g. the machine that uses it.")


class ApiTokenOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiTokenCreatedOutputSerializer(ApiTokenOutputSerializer):
    key = serializers.CharField(help_text="Shown this once: only its hash is stored.")

    class Meta(ApiTokenOutputSerializer.Meta):
        fields = [*ApiTokenOutputSerializer.Meta.fields, "key"]
