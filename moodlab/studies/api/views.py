from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from moodlab.errors import Invalid
from moodlab.studies.api.permissions import IsStudyResearcher
from moodlab.studies.api.serializers import (
    ParticipantEnterInputSerializer,
    ParticipantSessionOutputSerializer,
    PreflightOutputSerializer,
    SongOutputSerializer,
    StudyOutputSerializer,
)
from moodlab.studies.api.throttles import AddressStartThrottle
from moodlab.studies.models import Song, Study, StudyLocale
from moodlab.studies.preflight import phase_preflight
from moodlab.studies.selectors import studies_visible_to
from moodlab.studies.services.participants import participant_enter
from moodlab.studies.services.studies import PhaseMoveRefused, study_set_phase


class StudyListApi(generics.ListAPIView[Study]):
    """Researchers' studies (staff only). Data users find studies in the public catalogue,
    `GET /api/v1/data/snapshots/`, whose entries name each study's slug."""

    serializer_class = StudyOutputSerializer
    permission_classes = [IsStudyResearcher]
    filterset_fields = ["phase"]

    def get_queryset(self) -> QuerySet[Study]:
        return studies_visible_to(self.request.user).prefetch_related("locales")


class StudyDetailApi(generics.RetrieveAPIView[Study]):
    serializer_class = StudyOutputSerializer
    permission_classes = [IsStudyResearcher]
    lookup_field = "slug"
    lookup_url_kwarg = "study_slug"

    def get_queryset(self) -> QuerySet[Study]:
        return studies_visible_to(self.request.user).prefetch_related("locales")


class SongListApi(generics.ListAPIView[Song]):
    serializer_class = SongOutputSerializer
    permission_classes = [IsStudyResearcher]
    filterset_fields = ["country", "artist"]

    def get_queryset(self) -> QuerySet[Song]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Song.objects.none()
        study = get_object_or_404(
            studies_visible_to(self.request.user), slug=self.kwargs["study_slug"]
        )
        return study.songs.order_by("external_id")


class ParticipantEnterApi(APIView):
    """Start a participant session from an entry link, or resume the one the panel id has."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [AddressStartThrottle]

    @extend_schema(
        request=ParticipantEnterInputSerializer,
        responses={
            200: ParticipantSessionOutputSerializer,
            201: ParticipantSessionOutputSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = ParticipantEnterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        locale = get_object_or_404(
            StudyLocale.objects.select_related("study"),
            study__slug=data["study"],
            code=data["locale"],
        )
        participant, created = participant_enter(
            study=locale.study,
            locale=locale,
            recruiter_participant_id=data["recruiter_participant_id"],
            entry_parameters=data["entry_parameters"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            ParticipantSessionOutputSerializer(participant).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class StudyPhaseApi(APIView):
    """The pre-flight checklist of a phase move (GET) and the move itself (POST).

    A move with warnings needs `"confirm": true`; blockers always refuse it. Refusals answer
    400 with the whole checklist, as the admin's phase page shows it.
    """

    permission_classes = [IsStudyResearcher]
    write_permissions = ("studies.change_study",)  # as the admin's phase page

    class InputSerializer(serializers.Serializer[None]):
        phase = serializers.ChoiceField(choices=Study.Phase.choices)
        confirm = serializers.BooleanField(default=False)

    def study(self) -> Study:
        return get_object_or_404(
            studies_visible_to(self.request.user), slug=self.kwargs["study_slug"]
        )

    @extend_schema(
        parameters=[OpenApiParameter("phase", str, enum=Study.Phase.values, required=True)],
        responses=PreflightOutputSerializer,
    )
    def get(self, request: Request, **kwargs: object) -> Response:
        serializer = self.InputSerializer(data={"phase": request.query_params.get("phase")})
        serializer.is_valid(raise_exception=True)
        preflight = phase_preflight(study=self.study(), phase=serializer.validated_data["phase"])
        return Response(preflight.as_json())

    @extend_schema(request=InputSerializer, responses=StudyOutputSerializer)
    def post(self, request: Request, **kwargs: object) -> Response:
        study = self.study()  # a study the user may not manage is 404 whatever the body says
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            study = study_set_phase(study=study, phase=data["phase"], confirm=data["confirm"])
        except PhaseMoveRefused as refusal:
            return Response(
                {"phase": refusal.messages, "preflight": refusal.preflight.as_json()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except Invalid as error:
            return Response(error.fields, status=status.HTTP_400_BAD_REQUEST)
        return Response(StudyOutputSerializer(study).data)
