from django.urls import path

from elicitation.api import curation, views

TERMS = "studies/<slug:study_slug>/locales/<str:locale_code>/terms/"

urlpatterns = [
    path("turn/", views.TurnCurrentApi.as_view(), name="elicitation-turn"),
    path("turn/submit/", views.TurnSubmitApi.as_view(), name="elicitation-turn-submit"),
    path(
        "turn/audio-failed/",
        views.TurnAudioFailedApi.as_view(),
        name="elicitation-turn-audio-failed",
    ),
    path("tags/", views.TagAutocompleteApi.as_view(), name="elicitation-tags"),
    path(TERMS, curation.TermListApi.as_view(), name="curation-terms"),
    path(f"{TERMS}recompute/", curation.TermsRecomputeApi.as_view(), name="curation-recompute"),
    path(f"{TERMS}select-top/", curation.TermsSelectTopApi.as_view(), name="curation-select-top"),
    path(f"{TERMS}merge/", curation.TermsMergeApi.as_view(), name="curation-merge"),
    path(f"{TERMS}<int:term_id>/", curation.TermUpdateApi.as_view(), name="curation-term"),
    path(f"{TERMS}<int:term_id>/split/", curation.TermSplitApi.as_view(), name="curation-split"),
]
