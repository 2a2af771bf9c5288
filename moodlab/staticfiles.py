"""Static files as production serves them: compressed, with content hashes in their names."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleAwareManifestStorage(CompressedManifestStaticFilesStorage):
    """Also hashes the names inside the participant pages' ES module imports.

    Without it a cached, hashed session.js would import whatever api.js is current, so a
    deploy could mix two versions of the scripts in one participant's browser.
    """

    support_js_module_import_aggregation = True
