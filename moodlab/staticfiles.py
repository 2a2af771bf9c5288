"""Static files as production serves them: compressed, with content hashes in their names."""

from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleAwareManifestStorage(CompressedManifestStaticFilesStorage):
    """Also hashes the names inside the participant pages' ES module imports.

    Without it a cached, hashed session.js would import whatever api.js is current, so a
    deploy could mix two versions of the scripts in one participant's browser.
    """

    support_js_module_import_aggregation = True


def static_manifest_problem() -> str:
    """Why pages cannot name their static files, or "" when they can.

    With DEBUG off every page names its scripts through the manifest collectstatic writes;
    without it each page answers 500. Asked when gunicorn starts and by /healthz.
    """
    storage = storages["staticfiles"]
    if not isinstance(storage, ManifestFilesMixin):
        return ""
    if storage.exists(storage.manifest_name):
        return ""
    return (
        f"The static files manifest {storage.path(storage.manifest_name)} is missing: run "
        "`manage.py collectstatic --noinput` (platform/entrypoint.sh does for the web role), "
        "or set DEBUG=1 for development."
    )


def require_static_manifest() -> None:
    """Refuse to serve pages that would all answer 500; say what to do instead."""
    if problem := static_manifest_problem():
        raise ImproperlyConfigured(problem)
