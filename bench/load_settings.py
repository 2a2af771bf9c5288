"""Production settings plus the benchmark's floor view; used only by bench/participant_load.py.

The floor route lives in bench/load_urls.py so that it can never reach production URLs.
"""

from moodlab.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
# The benchmark serves no pages: it needs no collected static files (nor their manifest).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
