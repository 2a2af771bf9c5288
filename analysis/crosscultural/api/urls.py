from django.urls import path

from analysis.crosscultural.api import views

urlpatterns = [
    path(
        "studies/<slug:study_slug>/analyses/",
        views.StudyAnalysesApi.as_view(),
        name="crosscultural-analysis-list",
    ),
    path(
        "analyses/<int:analysis_id>/",
        views.AnalysisDetailApi.as_view(),
        name="crosscultural-analysis-detail",
    ),
    path(
        "analyses/<int:analysis_id>/figures/<slug:name>.<str:fmt>",
        views.AnalysisFigureApi.as_view(),
        name="crosscultural-analysis-figure",
    ),
    path(
        "studies/<slug:study_slug>/predictions/",
        views.StudyPredictionSetsApi.as_view(),
        name="crosscultural-prediction-set-list",
    ),
]
