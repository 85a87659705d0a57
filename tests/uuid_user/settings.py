"""The default test settings with a UUID-keyed user model (tests/uuid_user)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

AUTH_USER_MODEL = "uuid_user.User"
INSTALLED_APPS = ["tests.uuid_user" if app == "tests.testapp" else app for app in INSTALLED_APPS]
