"""The test settings plus the packages a take-back revokes: for tests/integrations only."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "rest_framework_simplejwt.token_blacklist",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # A device type that records no creation time (models.py).
    "tests.integrations",
]

MIDDLEWARE = [
    *MIDDLEWARE,
    # Marks a request whose session passed a django-otp device (is_verified).
    "django_otp.middleware.OTPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

# The test user model keeps its address in ``email_address``.
ACCOUNT_USER_MODEL_EMAIL_FIELD = "email_address"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ]
}
# A signing key of the length PyJWT asks for (the test SECRET_KEY is shorter).
SIMPLE_JWT = {"SIGNING_KEY": "integration-tests-signing-key-32-bytes-long"}
# DRF's tokens and knox's both default to "Token": each answers 401 to the
# other's, so knox's get a header word of their own.
REST_KNOX = {"AUTH_HEADER_PREFIX": "Knox"}
