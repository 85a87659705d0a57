"""Settings for the default test run: SQLite in memory, locmem cache and mail."""

import importlib.util
import os

SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "example.com"]
USE_TZ = True
ROOT_URLCONF = "tests.testapp.urls"
AUTH_USER_MODEL = "testapp.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEFAULT_FROM_EMAIL = "accounts@example.com"

INSTALLED_APPS = [
    # For tests/test_admin.py; nothing else depends on it.
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_verified_email",
    "tests.testapp",
]

# For the API's token-authentication tests (tests/api). Only when Django REST
# framework is installed: the core's own suite and tests/api/test_without_drf.py
# run without it.
if importlib.util.find_spec("rest_framework") is not None:
    INSTALLED_APPS.append("rest_framework.authtoken")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    },
    # For tests/test_routers.py alone (a test names the databases it uses):
    # a second database a router may send the users and this app's tables
    # to, and a replica of the default one for reads.
    "other": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
    },
    "replica": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        "TEST": {"MIRROR": "default"},
    },
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A fast hasher: the suite checks many passwords, and hashing cost is not
# what it tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

VERIFIED_EMAIL = {}

# VE_TEST_STORE=profile: the whole suite with the test user model stripped of
# VerifiedEmailMixin (tests/testapp/models.py), so the state lives in the
# profile store. Its table comes from migrations of its own (the usual ones add
# the mixin's columns), and the session epoch needs its middleware.
if os.environ.get("VE_TEST_STORE") == "profile":
    MIGRATION_MODULES = {"testapp": "tests.testapp.profile_migrations"}
    MIDDLEWARE.append("django_verified_email.middleware.SessionEpochMiddleware")

# Django 6.1 reads mail configuration from MAILERS; earlier versions from
# EMAIL_BACKEND. VE_TEST_MAIL_SETTINGS=email_backend runs 6.1 the old way.
try:
    from django.core.mail import mailers  # noqa: F401

    HAS_MAILERS = True
except ImportError:
    HAS_MAILERS = False

if HAS_MAILERS and os.environ.get("VE_TEST_MAIL_SETTINGS") != "email_backend":
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if HAS_MAILERS:
        # Django 6.1 warns once, while loading these settings, that
        # EMAIL_BACKEND is deprecated: that is the configuration this run
        # exists to test, so only that one load-time warning is let through.
        # Any later use of the setting (by the package or a test) still warns,
        # and warnings are errors.
        import warnings

        warnings.filterwarnings(
            "ignore",
            message="The EMAIL_BACKEND setting is deprecated",
            category=PendingDeprecationWarning,
        )

# As a host that describes its API with drf-spectacular sets it (a dotted
# path, read only when a schema is made): tests/api/test_schema.py.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
