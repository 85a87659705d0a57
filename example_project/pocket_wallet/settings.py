"""Settings of Pocket Wallet, a small site that uses django-verified-email.

For development only: the secret key is public and DEBUG is on by default.
Environment: POCKET_WALLET_DB (SQLite file), POCKET_WALLET_DEBUG ("0" turns
DEBUG off), POCKET_WALLET_CONSOLE_MAIL ("0" stops printing emails).
"""

import os
from importlib.util import find_spec
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "pocket-wallet-development-only-not-a-secret"
DEBUG = os.environ.get("POCKET_WALLET_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_verified_email",
    "accounts",
    "outbox",
]

# The JSON API needs the [drf] extra: the site runs without it.
HAS_REST_FRAMEWORK = find_spec("rest_framework") is not None
if HAS_REST_FRAMEWORK:
    INSTALLED_APPS.append("rest_framework")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pocket_wallet.urls"
WSGI_APPLICATION = "pocket_wallet.wsgi.application"
ASGI_APPLICATION = "pocket_wallet.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Listed before the apps' templates: the site's overrides win.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "outbox.context_processors.outbox",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("POCKET_WALLET_DB") or BASE_DIR / "db.sqlite3",
    }
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "profile"
LOGOUT_REDIRECT_URL = "home"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

VERIFIED_EMAIL = {
    # Short, so trying "send the link again" in the demo needs no patience.
    "RESEND_COOLDOWN": 5,
    "DELIVERY": "sync",
    "SUCCESS_URL": "profile",
    "SITE_NAME": "Pocket Wallet",
    "SUPPORT_URL": "mailto:support@pocket-wallet.example",
    # The safe choices a wallet makes; the home page lists them
    # (accounts.demo.SAFE_SETTINGS says why each).
    "LINK_MAX_AGE": 3600,  # seconds: 1 hour
    "REAUTH_MAX_ATTEMPTS": 5,  # wrong passwords
    "REAUTH_LOCKOUT": 900,  # seconds: 15 minutes
    "REVEAL_TAKEN_EMAIL": False,
    "NOTIFY_OLD_EMAIL": True,
    "CHANGE_LOCK_AFTER_REVERT": 86400,  # seconds: 1 day
    "LOGOUT_OTHER_SESSIONS": True,
    # Lost old mailbox: the new address alone confirms, then a week's wait
    # the old address can stop. `manage.py demo_fast_forward` ends it now.
    "RECOVERY_DELAY": 604800,  # seconds: 7 days
}

# Every email is stored for the outbox page (/outbox/), and printed.
DEFAULT_FROM_EMAIL = "Pocket Wallet <no-reply@pocket-wallet.example>"
OUTBOX_BACKEND = "outbox.backend.OutboxBackend"
OUTBOX_PRINT = os.environ.get("POCKET_WALLET_CONSOLE_MAIL", "1") != "0"

# Django 6.1 reads mail configuration from MAILERS (EMAIL_BACKEND is
# deprecated there); earlier versions only know EMAIL_BACKEND.
try:
    from django.core.mail import mailers  # noqa: F401
except ImportError:
    EMAIL_BACKEND = OUTBOX_BACKEND
else:
    MAILERS = {"default": {"BACKEND": OUTBOX_BACKEND}}
