"""The default test settings with Django's own ``auth.User`` (the profile store)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, MIDDLEWARE

AUTH_USER_MODEL = "auth.User"
# The test app's user model would clash with auth.User's reverse accessors.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.testapp"]
MIDDLEWARE = [*MIDDLEWARE, "django_verified_email.middleware.SessionEpochMiddleware"]
