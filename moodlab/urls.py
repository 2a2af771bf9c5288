from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from moodlab import media
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
    path("data/", include("analysis.data_pages")),
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
    # Song audio: never at a guessable path, always as audio (moodlab/media.py). With S3,
    # browsers fetch presigned URLs from the bucket instead.
    path("audio/public/<str:name>", media.public_audio, name="public-audio"),
    path("audio/<str:signed>", media.signed_audio, name="signed-audio"),
]
