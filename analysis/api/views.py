"""The data users' API: the public catalogue, snapshots of a study, their files, the live
mean ratings, and the data users' own API tokens."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.files.storage import FileSystemStorage, storages
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import content_disposition_header
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.api.filters import CatalogueFilter
from analysis.api.serializers import (
    ApiTokenCreatedOutputSerializer,
    ApiTokenInputSerializer,
    ApiTokenOutputSerializer,
    CatalogueSnapshotOutputSerializer,
    MeanRatingFilterSerializer,
    MeanRatingOutputSerializer,
    SnapshotOutputSerializer,
)
from analysis.models import ApiToken, CellAggregate, Snapshot
from analysis.selectors import (
    cell_aggregates_of,
    published_snapshots,
    snapshots_visible_to,
    studies_with_visible_snapshots,
    user_can_read_study_data,
)
from analysis.services.snapshots import snapshot_file_name
from analysis.services.tokens import api_token_create, api_token_revoke
from moodlab.ranged import ranged_file_response
from moodlab.studies.models import Study

# Text files say their charset, so pandas, browsers and curl never guess it.
CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".cff": "application/x-yaml; charset=utf-8",
    ".bib": "application/x-bibtex; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


def _study_with_snapshots(request: Request, slug: str) -> Study:
    """404 for a study the user may not see any snapshot of: its existence is not leaked."""
    return get_object_or_404(studies_with_visible_snapshots(request.user), slug=slug)


def _visible_snapshot(request: Request, slug: str, version: int) -> Snapshot:
    study = _study_with_snapshots(request, slug)
    return get_object_or_404(snapshots_visible_to(request.user, study), version=version)


class CatalogueListApi(generics.ListAPIView):
    """Every published snapshot of every study, newest first: the way in for data users.

    Open to anyone, no token needed. Each entry links to its files, dataset card, Croissant
    metadata and citation; `study` is the slug the other data routes take.
    """

    serializer_class = CatalogueSnapshotOutputSerializer
    permission_classes = [AllowAny]
    filter_backends = [DjangoFilterBackend]
    filterset_class = CatalogueFilter

    def get_queryset(self) -> QuerySet[Snapshot]:
        return published_snapshots()


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
    """One file of a snapshot: a presigned, expiring URL on S3; streamed from local storage,
    with Content-Length, single byte ranges (206) and a UTF-8 charset on text files."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            (206, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The byte range asked for with Range."
            ),
            302: OpenApiResponse(description="Redirect to a presigned, expiring download URL."),
            416: OpenApiResponse(description="The range lies outside the file."),
        }
    )
    def get(
        self, request: Request, study_slug: str, version: int, file_name: str
    ) -> HttpResponseBase:
        snapshot = _visible_snapshot(request, study_slug, version)
        try:
            name = snapshot_file_name(snapshot, file_name)
        except KeyError:
            raise NotFound(f"Snapshot v{version} has no file {file_name!r}.") from None
        storage = storages["snapshots"]
        content_type = CONTENT_TYPES.get(
            PurePosixPath(file_name).suffix, "application/octet-stream"
        )
        if not isinstance(storage, FileSystemStorage):
            # S3 answers the headers the signed URL asks for, so they match a local download.
            headers = {
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            }
            return HttpResponseRedirect(storage.url(name, parameters=headers))  # type: ignore[call-arg]  # S3Storage.url
        response = ranged_file_response(
            request.META.get("HTTP_RANGE", ""),
            storage.open(name, "rb"),
            size=storage.size(name),
            content_type=content_type,
        )
        response["Content-Disposition"] = content_disposition_header(True, file_name)
        return response


class SnapshotCroissantApi(APIView):
    """The snapshot's Croissant 1.0 metadata (JSON-LD), with this server's download URLs.

    `croissant.json` inside the snapshot names its files relative to itself; here each
    file's `contentUrl` is the absolute URL of its download route, so Croissant readers
    (mlcroissant, TFDS, Hugging Face) load the data straight from the API.
    """

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "application/ld+json"): OpenApiResponse(OpenApiTypes.OBJECT)})
    def get(self, request: Request, study_slug: str, version: int) -> HttpResponse:
        snapshot = _visible_snapshot(request, study_slug, version)
        try:
            name = snapshot_file_name(snapshot, "croissant.json")
        except KeyError:
            raise NotFound(
                f"Snapshot v{version} was exported without Croissant metadata."
            ) from None
        with storages["snapshots"].open(name, "rb") as handle:
            document: dict[str, Any] = json.load(handle)

        def absolute(file_name: str) -> str:
            where = {"study_slug": study_slug, "version": version, "file_name": file_name}
            return request.build_absolute_uri(reverse("v1:snapshot-file", kwargs=where))

        document["url"] = absolute(document["url"])
        for item in document.get("distribution", []):
            if item.get("@type") == "cr:FileObject":
                item["contentUrl"] = absolute(item["contentUrl"])
        return JsonResponse(
            document,
            content_type="application/ld+json; charset=utf-8",
            json_dumps_params={"ensure_ascii": False, "indent": 2},
        )


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


class ApiTokenListApi(generics.ListAPIView):
    """Your API tokens (active and revoked); POST creates one and answers its key, once."""

    serializer_class = ApiTokenOutputSerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list[type] = []
    queryset = ApiToken.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self) -> QuerySet[ApiToken]:
        return ApiToken.objects.filter(user=cast(User, self.request.user))

    @extend_schema(
        request=ApiTokenInputSerializer, responses={201: ApiTokenCreatedOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = ApiTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = api_token_create(
            user=cast(User, request.user), name=serializer.validated_data["name"]
        )
        token.key = key  # type: ignore[attr-defined]
        return Response(ApiTokenCreatedOutputSerializer(token).data, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(APIView):
    """Revoke one of your tokens: requests with it answer 401 from then on."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: ApiTokenOutputSerializer})
    def delete(self, request: Request, token_id: int) -> Response:
        token = api_token_revoke(user=cast(User, request.user), token_id=token_id)
        return Response(ApiTokenOutputSerializer(token).data)
