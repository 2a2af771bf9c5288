from django.urls import path

from moodlab.studies.api import views

urlpatterns = [
    path("studies/", views.StudyListApi.as_view(), name="study-list"),
    path("studies/<slug:study_slug>/", views.StudyDetailApi.as_view(), name="study-detail"),
    path("studies/<slug:study_slug>/songs/", views.SongListApi.as_view(), name="song-list"),
    path("participants/", views.ParticipantEnterApi.as_view(), name="participant-enter"),
]
