"""Researchers' API for the cross-cultural analysis: start runs, read results, upload predictions.

Every view finds the study through ``studies_visible_to``: another researcher's study or run
answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analysis.crosscultural.api.serializers import (
    AnalysisDetailOutputSerializer,
    AnalysisOutputSerializer,
    AnalysisStartInputSerializer,
    PredictionSetOutputSerializer,
    PredictionSetUploadInputSerializer,
)
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.selectors import analyses_of, prediction_sets_of
from analysis.crosscultural.services import (
    analysis_params_validate,
    analysis_start,
    prediction_set_import,
)
from moodlab.api.parsers import StrictFormParser, StrictMultiPartParser
from moodlab.studies.api.permissions import IsStudyResearcher
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Study
from moodlab.studies.selectors import studies_visible_to


def _visible_study(request: Request, slug: str) -> Study:
    return get_object_or_404(studies_visible_to(request.user), slug=slug)


def _researcher(request: Request) -> User:
    # IsStudyResearcher has let only authenticated staff through.
    return cast(User, request.user)


class StudyAnalysesApi(generics.ListAPIView):
    """List a study's cross-cultural analyses (newest first), or start one."""

    serializer_class = AnalysisOutputSerializer
    permission_classes = [IsStudyResearcher]
    write_permissions = ("crosscultural.add_crossculturalanalysis",)  # as the admin's run form
    queryset = CrossCulturalAnalysis.objects.none()  # for the schema; get_queryset scopes
    filterset_fields = ["status", "snapshot_version"]

    def get_queryset(self) -> QuerySet[CrossCulturalAnalysis]:
        study = _visible_study(self.request, self.kwargs["study_slug"])
        return analyses_of(study=study).order_by("-created_at")

    @extend_schema(
        request=AnalysisStartInputSerializer,
        responses={202: AnalysisOutputSerializer},
        summary="Start an analysis run (queued on Celery)",
    )
    def post(self, request: Request, study_slug: str) -> Response:
        study = _visible_study(request, study_slug)
        serializer = AnalysisStartInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        analysis = analysis_start(
            study=study,
            params=analysis_params_validate(dict(data["params"])),
            snapshot_version=data["snapshot_version"].strip(),
            requested_by=_researcher(request),
        )
        return Response(AnalysisOutputSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)


class AnalysisDetailApi(generics.RetrieveAPIView):
    """One run with its results: the numbers behind every table and figure of the report."""

    serializer_class = AnalysisDetailOutputSerializer
    permission_classes = [IsStudyResearcher]
    lookup_url_kwarg = "analysis_id"

    def get_queryset(self) -> QuerySet[CrossCulturalAnalysis]:
        return CrossCulturalAnalysis.objects.filter(
            study__in=studies_visible_to(self.request.user)
        ).select_related("study")


class StudyPredictionSetsApi(generics.ListAPIView):
    """List a study's model prediction sets, or upload one as CSV (multipart)."""

    serializer_class = PredictionSetOutputSerializer
    permission_classes = [IsStudyResearcher]
    write_permissions = ("crosscultural.add_predictionset",)  # as the admin's upload form
    queryset = PredictionSet.objects.none()  # for the schema; get_queryset scopes
    parser_classes = [StrictMultiPartParser, StrictFormParser]

    def get_queryset(self) -> QuerySet[PredictionSet]:
        study = _visible_study(self.request, self.kwargs["study_slug"])
        return prediction_sets_of(study=study).select_related("study", "uploaded_by")

    @extend_schema(
        request={"multipart/form-data": PredictionSetUploadInputSerializer},
        responses={201: PredictionSetOutputSerializer},
        summary="Upload model predictions (CSV: song, locale, term, score); all or nothing",
    )
    def post(self, request: Request, study_slug: str) -> Response:
        study = _visible_study(request, study_slug)
        serializer = PredictionSetUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            prediction_set, _report = prediction_set_import(
                study=study,
                name=data["name"],
                description=data["description"],
                csv_source=data["file"],
                uploaded_by=_researcher(request),
            )
        except ImportFailed as failure:
            raise ValidationError(
                {"file": [str(error) for error in failure.report.errors]}
            ) from failure
        return Response(
            PredictionSetOutputSerializer(prediction_set).data, status=status.HTTP_201_CREATED
        )
