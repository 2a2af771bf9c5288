"""The data users' API: snapshots of a study, their files, and the live mean ratings."""

from __future__ import annotations

from django.core.files.storage import FileSystemStorage, storages
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.api.serializers import (
    MeanRatingFilterSerializer,
    MeanRatingOutputSerializer,
    SnapshotOutputSerializer,
)
from analysis.models import CellAggregate, Snapshot
from analysis.selectors import (
    cell_aggregates_of,
    snapshots_visible_to,
    studies_with_visible_snapshots,
    user_can_read_study_data,
)
from analysis.snapshots import snapshot_file_name
from moodlab.studies.models import Study


def _study_with_snapshots(request: Request, slug: str) -> Study:
    """404 for a study the user may not see any snapshot of: its existence is not leaked."""
    return get_object_or_404(studies_with_visible_snapshots(request.user), slug=slug)


class SnapshotListApi(generics.ListAPIView):
    """Complete snapshots of a study with their manifests, newest first.

    Researchers of the study and users it granted access see every complete snapshot;
    anyone else only the published ones.
    """

    serializer_class = SnapshotOutputSerializer
    permission_classes = [AllowAny]
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Snapshot]:
        study = _study_with_snapshots(self.request, self.kwargs["study_slug"])
        return snapshots_visible_to(self.request.user, study).select_related("study")


class SnapshotDetailApi(generics.RetrieveAPIView):
    serializer_class = SnapshotOutputSerializer
    permission_classes = [AllowAny]
    lookup_field = "version"

    def get_queryset(self) -> QuerySet[Snapshot]:
        study = _study_with_snapshots(self.request, self.kwargs["study_slug"])
        return snapshots_visible_to(self.request.user, study).select_related("study")


class SnapshotFileDownloadApi(APIView):
    """One file of a snapshot: a presigned URL redirect on S3, the file streamed otherwise."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            302: OpenApiResponse(description="Redirect to a presigned download URL."),
        }
    )
    def get(
        self, request: Request, study_slug: str, version: int, file_name: str
    ) -> FileResponse | HttpResponseRedirect:
        study = _study_with_snapshots(request, study_slug)
        snapshot = get_object_or_404(snapshots_visible_to(request.user, study), version=version)
        try:
            name = snapshot_file_name(snapshot, file_name)
        except KeyError:
            raise NotFound(f"Snapshot v{version} has no file {file_name!r}.") from None
        storage = storages["snapshots"]
        if isinstance(storage, FileSystemStorage):
            return FileResponse(storage.open(name, "rb"), as_attachment=True, filename=file_name)
        return HttpResponseRedirect(storage.url(name))


class MeanRatingListApi(generics.ListAPIView):
    """Live mean ratings per song × term × locale (updated by the aggregation job).

    For researchers of the study and users it granted access; published data are in the
    snapshots.
    """

    serializer_class = MeanRatingOutputSerializer
    permission_classes = [AllowAny]
    filter_backends: list[type] = []

    @extend_schema(parameters=[MeanRatingFilterSerializer])
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[CellAggregate]:
        user = self.request.user
        if not user.is_authenticated:
            raise NotAuthenticated()
        study = get_object_or_404(Study, slug=self.kwargs["study_slug"])
        if not user_can_read_study_data(user, study):
            raise PermissionDenied("You have no access to this study's data.")
        filters = MeanRatingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return cell_aggregates_of(study=study, **filters.validated_data)
