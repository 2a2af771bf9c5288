"""MoodLab settings, read from the environment.

With nothing set you get the embedded default: SQLite under var/, Celery tasks run in-process,
files on local disk. Each service is switched on by its variable (see platform/env.example).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from moodlab.env import env_bool, env_int, env_list, env_str

# Generic Django classes accept their type arguments at run time too (`ModelAdmin[Study]`,
# `ModelForm[Song]`), as mypy --strict wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("MOODLAB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", default=False)
# The embedded default is for trying MoodLab on a laptop; production.py insists on a real key.
EMBEDDED_SECRET_KEY = "insecure-embedded-default-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY") or EMBEDDED_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    # modeltranslation must come before the admin so translated fields show there.
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_celery_beat",
    "django_celery_results",
    "django_countries",
    "moodlab.studies",
    "elicitation",
    "rating",
    "analysis",
    "analysis.crosscultural",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "moodlab.middleware.UnusableInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication (researchers have a larger limit), before anything reads the body.
    "moodlab.middleware.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "moodlab.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: it answers locked-out admin logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login throttling: five wrong passwords for a username from one address lock it out.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "moodlab.urls"
WSGI_APPLICATION = "moodlab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "moodlab" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not env_str("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded database must find its folder
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'moodlab.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several requests at once (a demo with a few browsers, simulated participants): each
    # transaction takes the write lock when it begins and waits for it, instead of failing
    # with "database is locked" when two try to upgrade a read lock; WAL lets reads go on.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Participant-facing languages; each has a catalogue under locale/.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("es", _("Spanish")),
    ("ko", _("Korean")),
    ("ar", _("Arabic")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Files: local disk by default; an S3 bucket (or any S3-compatible server) when a bucket is named.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600)
# Presigned URLs signed with SigV4 (X-Amz-Expires): what every AWS region and S3-compatible
# server accepts; SigV2 is deprecated.
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_FILE_OVERWRITE = False
USES_S3 = bool(AWS_STORAGE_BUCKET_NAME)
# Audio objects are named by their content, so caches may keep them for good.
AUDIO_OBJECT_PARAMETERS = {"CacheControl": "private, max-age=31536000, immutable"}
if USES_S3:
    _file_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"location": "media", "object_parameters": AUDIO_OBJECT_PARAMETERS},
    }
    _snapshot_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"location": "snapshots"},
    }
else:
    _file_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    _snapshot_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "snapshots"), "base_url": "/snapshots/"},
    }
STORAGES = {
    "default": _file_storage,
    "snapshots": _snapshot_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "moodlab.staticfiles.ModuleAwareManifestStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# What one song import's zip may inflate to in all (each member: 50 MB at most).
SONG_IMPORT_MAX_TOTAL_BYTES = env_int("SONG_IMPORT_MAX_TOTAL_BYTES", 8 * 1024**3)
# Every request body, whatever its content type (RequestSizeLimitMiddleware), except
# signed-in researchers' uploads (song zips, prediction CSVs), which have their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
RESEARCHER_UPLOAD_MAX_BYTES = env_int("RESEARCHER_UPLOAD_MAX_MB", 1024) * 1024 * 1024

# Celery: a Redis broker when CELERY_BROKER_URL is set, otherwise tasks run in-process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_STORE_EAGER_RESULT = True  # in-process runs still show their results in the admin
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 55 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
# Periodic tasks are rows of django-celery-beat, added by data migrations and editable in
# the admin; the database scheduler reads them.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# The cache fails open: only throttling counters and other best-effort data live there, so
# while Redis is unreachable django-redis answers a miss (get: the default; add, incr, set:
# None) instead of raising, and logs each ignored error, and participants go on.
REDIS_CACHE_OPTIONS = {
    "IGNORE_EXCEPTIONS": True,
    "SOCKET_CONNECT_TIMEOUT": 0.5,
    "SOCKET_TIMEOUT": 0.5,
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "moodlab.cache"
CACHES = {
    "default": (
        {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": env_str("CACHE_URL"),
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
        if env_str("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.NamespaceVersioning",
    "DEFAULT_VERSION": "v1",
    "ALLOWED_VERSIONS": ["v1"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Data users' own tokens (hashed; /data/tokens/); DRF's Token stays for researchers.
        "analysis.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "moodlab.api.parsers.StrictJSONParser",
        "moodlab.api.parsers.StrictFormParser",
        "moodlab.api.parsers.StrictMultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "moodlab.api.schema.MoodLabAutoSchema",
    "EXCEPTION_HANDLER": "moodlab.api.errors.json_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # Load balancers in front of MoodLab that append to X-Forwarded-For. The client address
    # for per-IP limits is the one the nearest of them saw; 0 uses the socket's address and
    # ignores the header, which any client can forge.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_THROTTLE_RATES": {
        "participant_start": env_str("THROTTLE_PARTICIPANT_START", "30/minute"),
        "participant_submit": env_str("THROTTLE_PARTICIPANT_SUBMIT", "120/minute"),
        "address_submit": env_str("THROTTLE_ADDRESS_SUBMIT", "3000/minute"),
        "data_sign_up": env_str("THROTTLE_DATA_SIGN_UP", "10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MoodLab API",
    "DESCRIPTION": (
        "Participant sessions (elicitation and rating), study administration for researchers, "
        "and versioned benchmark snapshots for data users.\n\n"
        "**Data users start at `GET /api/v1/data/snapshots/`**: the public catalogue of every "
        "published snapshot (no token needed), with each study's slug and links to its files, "
        "dataset card, Croissant metadata and citation; the same list is the page `/data/`. "
        "For unpublished snapshots a study granted you, sign up at `/data/sign-up/`, create a "
        "token at `/data/tokens/` and send `Authorization: Bearer <token>`. "
        "`/api/v1/studies/` is for researchers only."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` field with their own choices; name each enum.
    "ENUM_NAME_OVERRIDES": {
        "ParticipantStatusEnum": "moodlab.studies.models.Participant.Status",
        "ParticipantPhaseEnum": "moodlab.studies.models.Participant.Phase",
        "StudyPhaseEnum": "moodlab.studies.models.Study.Phase",
        "SnapshotStatusEnum": "analysis.models.Snapshot.Status",
        "AnalysisStatusEnum": "analysis.crosscultural.models.CrossCulturalAnalysis.Status",
    },
    # Swagger UI from our own static files: no CDN, and no inline script for the CSP to forbid.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Content-Security-Policy: scripts and styles only from our own origin, audio also from the
# object store when files live on S3; nothing may frame MoodLab.
_MEDIA_ORIGINS = [SELF, "blob:"] + (
    [AWS_S3_ENDPOINT_URL or f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com"]
    if USES_S3
    else []
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # The Django admin sets a few style attributes; scripts stay strict.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "media-src": _MEDIA_ORIGINS,
        "connect-src": _MEDIA_ORIGINS,
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Database errors lose the values they quote (a panel's participant id can be one).
    "filters": {"redact_database_errors": {"()": "moodlab.log_redaction.RedactDatabaseErrors"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_database_errors"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every request at INFO: the simulator and the load benchmark would drown
        # the log with one line per trial.
        "httpx": {"level": env_str("HTTPX_LOG_LEVEL", "WARNING")},
        # At DEBUG it logs every statement with its parameters, whatever LOG_LEVEL says.
        "django.db.backends": {"level": "INFO"},
    },
}

MOODLAB_VERSION = "0.1.0"
