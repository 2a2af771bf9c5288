"""Production: everything from base, but it refuses to start insecurely."""

from django.core.exceptions import ImproperlyConfigured

from moodlab.env import env_bool, env_int, env_str
from moodlab.settings.base import *  # noqa: F403
from moodlab.settings.base import ALLOWED_HOSTS, EMBEDDED_SECRET_KEY

MIN_SECRET_KEY_LENGTH = 50
# Keys published in this repository or its documentation: anyone could sign sessions with them.
KNOWN_EXAMPLE_KEYS = frozenset(
    {
        EMBEDDED_SECRET_KEY,
        "change-me-to-a-long-random-string",
        "build-only",
    }
)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production.")
if SECRET_KEY in KNOWN_EXAMPLE_KEYS or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY is a published example key: generate your own, e.g. with "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
if len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
    raise ImproperlyConfigured(
        f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long in production."
    )
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production.")

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
# No SECURE_PROXY_SSL_HEADER: Django would believe any client's X-Forwarded-Proto. gunicorn
# sets the scheme from that header only for the proxies in FORWARDED_ALLOW_IPS.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
