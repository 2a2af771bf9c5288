"""The cross-cultural analysis API: researchers start runs and upload predictions; anyone who
may read a snapshot reads the succeeded runs on it (numbers and figures).

Researchers' views find the study through ``studies_visible_to``: another researcher's study
or run answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from analysis.crosscultural import figures
from analysis.crosscultural.api.serializers import (
    AnalysisDetailOutputSerializer,
    AnalysisOutputSerializer,
    AnalysisStartInputSerializer,
    PredictionSetOutputSerializer,
    PredictionSetUploadInputSerializer,
)
from analysis.crosscultural.models import CrossCulturalAnalysis, PredictionSet
from analysis.crosscultural.selectors import (
    analyses_readable_by,
    prediction_sets_of,
)
from analysis.crosscultural.services import (
    analysis_params_validate,
    analysis_start,
    prediction_set_import,
)
from analysis.selectors import published_snapshots, user_can_read_study_data
from moodlab.api.parsers import StrictFormParser, StrictMultiPartParser
from moodlab.studies.api.permissions import IsStudyResearcher
from moodlab.studies.csv_import import ImportFailed
from moodlab.studies.models import Study
from moodlab.studies.selectors import studies_visible_to, user_can_manage_study


def _visible_study(request: Request, slug: str) -> Study:
    return get_object_or_404(studies_visible_to(request.user), slug=slug)


def _researcher(request: Request) -> User:
    # IsStudyResearcher has let only authenticated staff through.
    return cast(User, request.user)


def _refuse(request: Request) -> None:
    """What a run the user may not read answers: 401 anonymous, 403 data user, 404 staff."""
    if not request.user.is_authenticated:
        raise NotAuthenticated()
    if not request.user.is_staff:
        raise PermissionDenied("You have no access to this study's analyses.")
    raise Http404


def _readable_analysis(request: Request, analysis_id: int) -> CrossCulturalAnalysis:
    analysis = analyses_readable_by(request.user).filter(pk=analysis_id).first()
    if analysis is None:
        _refuse(request)
    return cast(CrossCulturalAnalysis, analysis)


class ReadsForSnapshotReaders(BasePermission):
    """Reads are scoped by the view (analyses_readable_by); writes are researchers' only."""

    def has_permission(self, request: Request, view: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return IsStudyResearcher().has_permission(request, view)  # type: ignore[arg-type]


class StudyAnalysesApi(generics.ListAPIView):
    """List a study's cross-cultural analyses (newest first), or start one (researchers).

    Researchers of the study see every run; anyone who may read a snapshot of it (published,
    or granted) sees the succeeded runs on the snapshots they may read.
    """

    serializer_class = AnalysisOutputSerializer
    permission_classes = [ReadsForSnapshotReaders]
    write_permissions = ("crosscultural.add_crossculturalanalysis",)  # as the admin's run form
    queryset = CrossCulturalAnalysis.objects.none()  # for the schema; get_queryset scopes
    filterset_fields = ["status", "snapshot_version"]

    def get_queryset(self) -> QuerySet[CrossCulturalAnalysis]:
        user = self.request.user
        study = Study.objects.filter(slug=self.kwargs["study_slug"]).first()
        may_read = study is not None and (
            (user.is_staff and user_can_manage_study(user, study))
            or user_can_read_study_data(user, study)
            or published_snapshots().filter(study=study).exists()
        )
        if not may_read:
            _refuse(self.request)
        runs = analyses_readable_by(user).filter(study=study)
        return runs.order_by("-created_at")

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
    permission_classes = [AllowAny]

    def get_object(self) -> CrossCulturalAnalysis:
        return _readable_analysis(self.request, self.kwargs["analysis_id"])


class AnalysisFigureApi(generics.GenericAPIView):
    """One figure of a succeeded run, drawn from its results: reliability, valence-arousal,
    congruence or equivalent-terms, as svg or png."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
        }
    )
    def get(self, request: Request, analysis_id: int, name: str, fmt: str) -> HttpResponse:
        analysis = _readable_analysis(request, analysis_id)
        if name not in figures.FIGURES or fmt not in figures.FORMATS or analysis.results is None:
            raise Http404
        content = figures.render(name, analysis.report, fmt=fmt, finished_at=analysis.finished_at)
        return HttpResponse(content, content_type=figures.FORMATS[fmt])


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
