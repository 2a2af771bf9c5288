from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from moodlab.health import healthz
from moodlab.studies import pages
from moodlab.studies.admin_scoping import platform_apps_for_superusers_only

api_v1 = [
    path("", include("moodlab.studies.api.urls")),
    path("elicitation/", include("elicitation.api.urls")),
    path("data/", include("analysis.api.urls")),
    path("", include("analysis.crosscultural.api.urls")),
    path("rating/", include("rating.api.urls")),
]

admin.site.site_header = "MoodLab administration"
admin.site.site_title = "MoodLab"
admin.site.index_title = "Studies, participants and data"
admin.site.site_url = None  # no public home page: a "View site" link would answer 404
platform_apps_for_superusers_only(admin.site)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "v1"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "study/<slug:study_slug>/<str:locale_code>/",
        pages.participant_entry,
        name="participant-entry",
    ),
    path(
        "study/<slug:study_slug>/<str:locale_code>/session/",
        pages.participant_session,
        name="participant-session",
    ),
]


def media_file(request: HttpRequest, path: str) -> HttpResponse | FileResponse:
    # MEDIA_ROOT is read per request, so a changed setting (as in tests) is honoured.
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


if not settings.USES_S3:
    # Local file storage (the embedded default, or one media volume behind gunicorn): Django
    # serves the audio itself. With S3, participants fetch audio by presigned URL instead.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", media_file)]
