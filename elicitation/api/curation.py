"""Staff API for term curation: the same services as the admin, for scripted curation."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from elicitation.services.curation import (
    term_split,
    term_update,
    terms_merge,
    terms_recompute,
    terms_select_top,
)
from moodlab.studies.api.permissions import IsStudyResearcher
from moodlab.studies.models import StudyLocale, Term, label_field_of
from moodlab.studies.selectors import studies_visible_to


class TermOutputSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField()  # type: ignore[assignment]
    gloss = serializers.CharField(source="label_en", allow_null=True)
    merged_keys = serializers.SerializerMethodField()

    class Meta:
        model = Term
        fields = [
            "id",
            "key",
            "label",
            "gloss",
            "frequency",
            "mean_rating",
            "score",
            "chain_count",
            "song_count",
            "merged_keys",
            "is_selected",
            "is_excluded",
            "rank",
        ]

    def get_label(self, term: Term) -> str:
        return getattr(term, label_field_of(term.locale)) or ""

    def get_merged_keys(self, term: Term) -> list[str]:
        return sorted(alias.key for alias in term.aliases.all())


class CurationApi(APIView):
    permission_classes = [IsStudyResearcher]
    # As the curation admin asks for its actions and edits.
    write_permissions = ("elicitation.change_curationterm",)

    def locale(self) -> StudyLocale:
        return get_object_or_404(
            StudyLocale.objects.select_related("study"),
            study__in=studies_visible_to(self.request.user),
            study__slug=self.kwargs["study_slug"],
            code=self.kwargs["locale_code"],
        )

    def term(self) -> Term:
        return get_object_or_404(
            Term.objects.select_related("locale__study"),
            locale=self.locale(),
            pk=self.kwargs["term_id"],
        )

    def terms_response(self, locale: StudyLocale) -> Response:
        terms = (
            locale.terms.select_related("locale")
            .prefetch_related("aliases")
            .order_by("rank", "-score", "key")
        )
        return Response(TermOutputSerializer(terms, many=True).data)


class TermListApi(CurationApi):
    """The locale's term table, best first."""

    @extend_schema(responses=TermOutputSerializer(many=True))
    def get(self, request: Request, **kwargs: Any) -> Response:
        return self.terms_response(self.locale())


class TermsRecomputeApi(CurationApi):
    """Recompute frequencies, means and scores from the chains; new keys become terms."""

    @extend_schema(request=None, responses=TermOutputSerializer(many=True))
    def post(self, request: Request, **kwargs: Any) -> Response:
        locale = self.locale()
        terms_recompute(locale=locale)
        return self.terms_response(locale)


class TermsSelectTopApi(CurationApi):
    class InputSerializer(serializers.Serializer):
        count = serializers.IntegerField(min_value=1, max_value=1000, required=False)

    @extend_schema(request=InputSerializer, responses=TermOutputSerializer(many=True))
    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        locale = self.locale()
        terms_select_top(locale=locale, count=serializer.validated_data.get("count"))
        return self.terms_response(locale)


class TermsMergeApi(CurationApi):
    class InputSerializer(serializers.Serializer):
        terms = serializers.ListField(
            child=serializers.IntegerField(), min_length=2, max_length=100
        )
        into = serializers.IntegerField(required=False)

    @extend_schema(request=InputSerializer, responses=TermOutputSerializer)
    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = terms_merge(
            locale=self.locale(), term_ids=data["terms"], into_id=data.get("into")
        )
        return Response(TermOutputSerializer(outcome.term).data)


class TermSplitApi(CurationApi):
    class InputSerializer(serializers.Serializer):
        keys = serializers.ListField(
            child=serializers.CharField(max_length=200), required=False, max_length=100
        )

    @extend_schema(request=InputSerializer, responses=TermOutputSerializer(many=True))
    def post(self, request: Request, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        split = term_split(term=self.term(), keys=serializer.validated_data.get("keys"))
        return Response(TermOutputSerializer(split, many=True).data)


class TermUpdateApi(CurationApi):
    """Rename a term, gloss it in English, exclude it, or (de)select it by hand."""

    class InputSerializer(serializers.Serializer):
        label = serializers.CharField(max_length=100, required=False)  # type: ignore[assignment]
        gloss = serializers.CharField(max_length=100, required=False, allow_blank=True)
        is_excluded = serializers.BooleanField(required=False)
        is_selected = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses=TermOutputSerializer)
    def patch(self, request: Request, **kwargs: Any) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        term = term_update(
            term=self.term(),
            label=data.get("label"),
            gloss=data.get("gloss"),
            excluded=data.get("is_excluded"),
            selected=data.get("is_selected"),
        )
        return Response(TermOutputSerializer(term).data)
