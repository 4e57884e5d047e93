"""Settings, read from the environment (12-factor). Production differs only by variables.

See README.md ("Configuration") for every variable.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# The default key is for the demo and the tests only: config/wsgi.py refuses to serve with
# it unless DEBUG is on, and `manage.py check --deploy` flags it.
INSECURE_DEMO_KEY = "django-insecure-demo-key-set-SECRET_KEY-in-production"
SECRET_KEY = env("SECRET_KEY", default=INSECURE_DEMO_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "import_export",
    "config.axes_app.AxesConfig",  # django-axes, with a translated name
    "django_tasks",
    "config.tasks_app.TasksConfig",  # django-tasks-db, with translated names
    "grids",
    "issues",
    "participation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before any view reads the body; after the user and language are known, for the page.
    "config.middleware.RequestSizeLimitMiddleware",
    "config.middleware.SessionIdleTimeoutMiddleware",
    "issues.refusals.RefusalLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so that throttled logins are answered before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "issues.context_processors.navigation",
            ],
            # The form-drawing tags, for every app's templates.
            "libraries": {"form_tags": "config.form_tags"},
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# The embedded default is a SQLite file in the project; PostgreSQL (psycopg 3) in production.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two writers queue instead
    # of failing half-way; WAL lets readers go on while one writes (see grids/apps.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The statements run again and again are prepared on the server (config/postgresql);
    # 0 behind a pooler that cannot carry prepared statements (PgBouncer in transaction
    # mode before 1.21).
    if not env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None

# An optional read replica (a PostgreSQL streaming standby) for the dashboards, the public
# pages and the API's lists (config/replica.py); everything else reads the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"].get("CONN_MAX_AGE", 0)
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.replica.ReplicaRouter"]
# PostgreSQL is served by Django's backend with psycopg's fast reading of timestamps
# (config/postgresql/base.py).
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["ENGINE"] = "config.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "grids.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's, reading who is signed in from a shared cache when there is one (grids/auth.py).
    "grids.auth.CachedModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "after_login"  # staff land on their queue (issues/views/staff.py)
LOGOUT_REDIRECT_URL = "home"

# Login throttling (django-axes): lock a username+address pair after repeated failures.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner on every manage.py command
# Behind this many reverse proxies the client's address is read from X-Forwarded-For
# (config/throttle.py); 0 means the peer of the connection is the client.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "config.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "config.views.locked_out"  # 429 in the site's layout, with the wait

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Photos are sent through a view that checks who may see them (issues/views/photos.py).
# On: the view answers with X-Accel-Redirect to /media/…, which the proxy serves as an
# internal location (README). Off: the view streams the file itself (the demo).
MEDIA_X_ACCEL_REDIRECT = env.bool("MEDIA_X_ACCEL_REDIRECT", default=False)
# Photos are kept at most this many pixels on their longer side (issues/photos.py): a
# phone's 12 to 48 megapixels are shrunk on upload, once (to about 2000 × 1500).
PHOTO_MAX_SIDE = env.int("PHOTO_MAX_SIDE", default=2048)
# Files an administrator uploads for an import wait here until the import is confirmed:
# shared between hosts like MEDIA_ROOT, but never served.
IMPORT_UPLOADS_ROOT = env.path("IMPORT_UPLOADS_ROOT", default=BASE_DIR / "private" / "imports")
STORAGES["import_export"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": IMPORT_UPLOADS_ROOT},
}
# A checked file nobody confirms is dropped this many hours after its check (its job says
# so); the next upload, or the deadline sweep's round, clears them.
IMPORT_KEEP_HOURS = env.int("IMPORT_KEEP_HOURS", default=48)
# Photos are at most 10 MB each and 5 per form: a request body may carry that and 1 MB more
# (config/middleware.py answers 413 from Content-Length before reading it; the proxy's
# client_max_body_size says the same). Form fields other than files stay under 5 MB, and
# an upload larger than 5 MB goes to a temporary file rather than memory.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=51 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@grid.example")

# Background tasks (issues/tasks.py: resident emails, webhooks) go through the Tasks API.
# The default backend keeps them in the database and `manage.py db_worker` runs them; a city
# already running Celery or RQ sets TASKS_BACKEND to that backend's class (the packages
# django-tasks-celery, django-tasks-rq) and runs its worker instead, with no code changes.
TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# Crispy forms adds a widget's class name to its CSS classes; the widgets written in Python
# (config/widgets.py) keep the names of the Django widgets they stand for.
CRISPY_CLASS_CONVERTERS = {
    "plainselect": "select",
    "plainhiddeninput": "hiddeninput",
    "plaincheckboxinput": "checkboxinput",
}

# Admin imports (django-import-export) run in one transaction: a bad row imports nothing.
IMPORT_EXPORT_USE_TRANSACTIONS = True

# Content Security Policy (django-csp 4): everything from our own origin, nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Maps (Leaflet, vendored). The base layer is configuration: a tile URL template such as
# 天地图's (README "Maps"), its attribution, and the coordinate system the tiles are drawn
# in. Points are stored in WGS-84 whatever the tiles use; with gcj02 (高德, 腾讯) they are
# converted for display and back on input. With no tile URL the maps draw grids, buildings
# and markers on a plain background.
MAP_TILES_URL = env("MAP_TILES_URL", default="")
MAP_TILES_ATTRIBUTION = env("MAP_TILES_ATTRIBUTION", default="")
MAP_TILES_SUBDOMAINS = env("MAP_TILES_SUBDOMAINS", default="abc")  # what {s} stands for
MAP_COORDINATES = env("MAP_COORDINATES", default="wgs84").lower()
if MAP_COORDINATES not in ("wgs84", "gcj02"):
    raise ImproperlyConfigured("MAP_COORDINATES must be wgs84 or gcj02.")


def _tile_origin(url: str) -> str:
    """The CSP source for a tile URL template: {s} subdomains become a wildcard label."""
    parts = urlsplit(url)
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}" if parts.scheme else ""


if MAP_TILES_URL and _tile_origin(MAP_TILES_URL):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(_tile_origin(MAP_TILES_URL))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS behind the proxy, which says so in X-Forwarded-Proto. Both are on unless DEBUG;
# 0 turns each off (a plain-HTTP test server).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
# The platform usually runs on one host of a government domain whose other hosts it does
# not control: HSTS for subdomains and the preload list are the domain owner's choice.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Idle timeout (config/middleware.py): a session ends after this many seconds without a
# request: staff after a working day, residents after two weeks.
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=8 * 3600)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)

# Resolved issues with a resident reporter close by themselves after this many days.
AUTO_CLOSE_DAYS = env.int("AUTO_CLOSE_DAYS", default=7)
# Working hours (local time) within which working-day deadlines run (issues.workdays).
WORKING_HOURS = (
    env("WORKING_DAY_STARTS", default="08:30"),
    env("WORKING_DAY_ENDS", default="17:30"),
)
# 回访: unanswered call-backs after which an issue is verified instead.
CALLBACK_TRIES = env.int("CALLBACK_TRIES", default=3)
# Resolved issues still unverified after this many days are listed by the sweep.
UNVERIFIED_DAYS = env.int("UNVERIFIED_DAYS", default=3)
# The daily rollups the dashboards read: 0 rewrites a changed grid-day inside the change's
# own transaction; otherwise changes note their grid-day and a task (and every sweep round)
# rewrites the noted ones within about this many seconds, off the request.
ROLLUP_DELAY = env.int("ROLLUP_DELAY", default=30)
# Dashboard recurrence alert: a grid with this many issues of one category within these days.
RECURRENCE_MIN_COUNT = env.int("RECURRENCE_MIN_COUNT", default=3)
RECURRENCE_DAYS = env.int("RECURRENCE_DAYS", default=14)
# The public pages' figures (home, open dashboard) are recomputed at most this often.
PUBLIC_FIGURES_SECONDS = env.int("PUBLIC_FIGURES_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"without_refusals": {"()": "issues.refusals.WithoutRefusalTracebacks"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Refusals (403, out of scope) are one line each on "issues.refused", not tracebacks.
        "django.request": {"filters": ["without_refusals"]},
        # Every sign-in is logged at INFO by django-axes; lockouts are WARNING and stay.
        "axes": {"level": env("AXES_LOG_LEVEL", default="WARNING")},
    },
}

# Open311 GeoReport v2 (/open311/v2/): who answers for it, and where clients ask for a key.
OPEN311_CONTACT = env("OPEN311_CONTACT", default="")
OPEN311_KEY_SERVICE = env("OPEN311_KEY_SERVICE", default="")
# The API's per-key rate limits count in the cache: give every app host the same one in
# production (e.g. CACHE_URL=redis://… or a database cache); the default is per process.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# A cache every process and host shares can stand in for the database on every request:
# the session, and who is signed in with their posts (grids/auth.py). A per-process one
# cannot (a change would be forgotten by one process and remembered by the others).
CACHE_IS_SHARED = CACHES["default"]["BACKEND"] not in {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHE_IS_SHARED
    else "config.sessions"  # Django's database store, reading a session with plain SQL
)
SIGNED_IN_CACHE_SECONDS = env.int("SIGNED_IN_CACHE_SECONDS", default=300 if CACHE_IS_SHARED else 0)
