"""Pocket Wallet on Django's default ``auth.User``: no custom user model.

The same site as ``settings.py``, for a host that keeps Django's own user
model: the app keeps the verified state in its own table (the "profile"
store, ``VerifiedEmailProfile``), and the session epoch middleware ends
sessions on a revert. Run it with
``DJANGO_SETTINGS_MODULE=pocket_wallet.settings_auth_user`` (or
``manage.py … --settings pocket_wallet.settings_auth_user``). Its database is
a file of its own: a database migrated for one user model cannot serve the
other.
"""

import os

from .settings import *  # noqa: F403
from .settings import BASE_DIR, DATABASES, MIDDLEWARE

AUTH_USER_MODEL = "auth.User"

# After AuthenticationMiddleware: it reads request.user (check W013).
MIDDLEWARE = [*MIDDLEWARE, "django_verified_email.middleware.SessionEpochMiddleware"]

# The accounts app keeps the site's pages, forms and demo commands; its
# custom user model is not defined on this path (accounts/models.py), so its
# migrations, which create that model, are not loaded either.
MIGRATION_MODULES = {"accounts": None}

DATABASES = {
    "default": {
        **DATABASES["default"],
        "NAME": os.environ.get("POCKET_WALLET_DB") or BASE_DIR / "db-auth-user.sqlite3",
    }
}
