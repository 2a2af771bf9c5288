from django.urls import path

from moodlab.studies.api import steps, views

urlpatterns = [
    path("studies/", views.StudyListApi.as_view(), name="study-list"),
    path("studies/<slug:study_slug>/", views.StudyDetailApi.as_view(), name="study-detail"),
    path("studies/<slug:study_slug>/phase/", views.StudyPhaseApi.as_view(), name="study-phase"),
    path("studies/<slug:study_slug>/songs/", views.SongListApi.as_view(), name="song-list"),
    path("participants/", views.ParticipantEnterApi.as_view(), name="participant-enter"),
    path("participants/me/", steps.ParticipantStateApi.as_view(), name="participant-state"),
    path(
        "participants/me/consent/",
        steps.ParticipantConsentApi.as_view(),
        name="participant-consent",
    ),
    path(
        "participants/me/volume/", steps.ParticipantVolumeApi.as_view(), name="participant-volume"
    ),
    path(
        "participants/me/headphones/",
        steps.ParticipantHeadphonesApi.as_view(),
        name="participant-headphones",
    ),
    path(
        "participants/me/vocabulary/",
        steps.ParticipantVocabularyApi.as_view(),
        name="participant-vocabulary",
    ),
    path(
        "participants/me/questionnaire/",
        steps.ParticipantQuestionnaireApi.as_view(),
        name="participant-questionnaire",
    ),
    path(
        "participants/audio/<str:signed>/",
        steps.ParticipantPrescreenAudioApi.as_view(),
        name="participant-prescreen-audio",
    ),
]
