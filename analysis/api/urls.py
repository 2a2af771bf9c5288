from django.urls import path

from analysis.api import views

urlpatterns = [
    path("snapshots/", views.CatalogueListApi.as_view(), name="catalogue"),
    path("tokens/", views.ApiTokenListApi.as_view(), name="api-token-list"),
    path("tokens/<int:token_id>/", views.ApiTokenRevokeApi.as_view(), name="api-token-revoke"),
    path(
        "studies/<slug:study_slug>/snapshots/",
        views.SnapshotListApi.as_view(),
        name="snapshot-list",
    ),
    path(
        "studies/<slug:study_slug>/snapshots/<int:version>/",
        views.SnapshotDetailApi.as_view(),
        name="snapshot-detail",
    ),
    path(
        "studies/<slug:study_slug>/snapshots/<int:version>/croissant",
        views.SnapshotCroissantApi.as_view(),
        name="snapshot-croissant",
    ),
    path(
        "studies/<slug:study_slug>/snapshots/<int:version>/files/<str:file_name>",
        views.SnapshotFileDownloadApi.as_view(),
        name="snapshot-file",
    ),
    path(
        "studies/<slug:study_slug>/mean-ratings/",
        views.MeanRatingListApi.as_view(),
        name="mean-rating-list",
    ),
]
