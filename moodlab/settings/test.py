"""Tests run against the real services production uses: PostgreSQL and Redis on this machine."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/moodlab")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("MOODLAB_VAR_DIR", os.path.join(tempfile.gettempdir(), "moodlab-test-var"))

from moodlab.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests call tasks directly or through a real worker (tests/test_celery_worker.py); the web
# side must not need a broker to answer, so requests in tests never publish.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "participant_start": "10000/minute",
    "participant_submit": "10000/minute",
    "address_submit": "100000/minute",
    "data_sign_up": "10000/minute",
}
STATIC_ROOT = None  # type: ignore[assignment]  # static files come from the finders; nothing is collected for tests
WHITENOISE_USE_FINDERS = True
# Tests log in with client.login(), which has no request for django-axes to inspect; the
# lockout itself is tested with axes switched on (tests/test_security.py).
AXES_ENABLED = False
