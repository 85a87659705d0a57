"""System checks of the bridge. Ids are stable: hosts may silence them by id."""

from django.apps import apps
from django.conf import settings
from django.core import checks

BRIDGE = "django_verified_email.contrib.allauth"
GUARD = f"{BRIDGE}.middleware.AllauthGuardMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"


@checks.register()
def check_allauth_installed(app_configs=None, **kwargs):
    """E001: allauth.account is missing; W001: it is listed after the bridge."""
    names = [config.name for config in apps.get_app_configs()]
    if "allauth.account" not in names:
        return [
            checks.Error(
                f"{BRIDGE} is installed without allauth.account.",
                hint='Add "allauth" and "allauth.account" to INSTALLED_APPS, before the bridge.',
                id="verified_email_allauth.E001",
            )
        ]
    if names.index("allauth.account") > names.index(BRIDGE):
        return [
            checks.Warning(
                f"{BRIDGE} is listed before allauth.account in INSTALLED_APPS.",
                hint="List it after allauth.account.",
                id="verified_email_allauth.W001",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_guard_middleware(app_configs=None, **kwargs):
    """E002: without the guard, allauth's email page and API go around the dual-link flow.

    E003: the guard comes before ``AuthenticationMiddleware``, so it cannot
    tell who asks.
    """
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if GUARD in middleware:
        if AUTHENTICATION in middleware and middleware.index(AUTHENTICATION) > middleware.index(
            GUARD
        ):
            return [
                checks.Error(
                    "The allauth bridge's middleware comes before AuthenticationMiddleware.",
                    hint=f'Move "{GUARD}" after AuthenticationMiddleware and MessageMiddleware.',
                    id="verified_email_allauth.E003",
                )
            ]
        return []
    return [
        checks.Error(
            "The allauth bridge's middleware is not in MIDDLEWARE: allauth's email page "
            "and headless API can add an address or make another one primary without "
            "the dual-link flow.",
            hint=f'Add "{GUARD}" to MIDDLEWARE, after AuthenticationMiddleware and '
            "MessageMiddleware.",
            id="verified_email_allauth.E002",
        )
    ]
