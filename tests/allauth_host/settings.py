"""A host project with django-allauth (account, mfa and headless) and the bridge, on PostgreSQL.

The database and cache are tests/settings_postgres.py's (VE_PG_*, VE_REDIS_URL).
"""

from tests.settings_postgres import *  # noqa: F403
from tests.settings_postgres import DATABASES, INSTALLED_APPS, MIDDLEWARE

# Only the default database (tests/test_routers.py's aliases are for the main
# suite; Django's checks would connect to each).
DATABASES = {"default": DATABASES["default"]}

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    "django_verified_email.contrib.allauth",
]

MIDDLEWARE = [
    *MIDDLEWARE,
    "allauth.account.middleware.AccountMiddleware",
    "django_verified_email.contrib.allauth.middleware.AllauthGuardMiddleware",
]

ROOT_URLCONF = "tests.allauth_host.urls"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# The test user model keeps its address in ``email_address``.
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email_address"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_MAX_EMAIL_ADDRESSES = 3
# The tests sign in with force_login: no recent password entry to ask for.
ACCOUNT_REAUTHENTICATION_REQUIRED = False
ACCOUNT_RATE_LIMITS = False

HEADLESS_CLIENTS = ("browser", "app")

# pytest-django's live_server (test_browser_walk.py) serves static files
# under STATIC_URL: it must be set.
STATIC_URL = "/static/"
