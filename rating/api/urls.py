from django.urls import path

from rating.api import views

urlpatterns = [
    path("trial/", views.RatingTrialCurrentApi.as_view(), name="rating-trial-current"),
    path(
        "trials/<int:trial_id>/submit/",
        views.RatingTrialSubmitApi.as_view(),
        name="rating-trial-submit",
    ),
    path(
        "trials/<int:trial_id>/audio-failed/",
        views.RatingTrialAudioFailedApi.as_view(),
        name="rating-trial-audio-failed",
    ),
    path("finish/", views.RatingSessionFinishApi.as_view(), name="rating-finish"),
]
