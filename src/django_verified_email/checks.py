"""System checks. Ids are stable: hosts may silence them by id."""

from django.apps import apps
from django.conf import settings
from django.core import checks

from .conf import DEFAULTS, DELIVERY_MODES, app_settings


@checks.register(checks.Tags.models)
def check_user_model(app_configs=None, **kwargs):
    from .models import VerifiedEmailMixin

    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL, require_ready=False)
    except (LookupError, ValueError):
        return []  # Django's own auth checks report a bad AUTH_USER_MODEL.
    if not issubclass(user_model, VerifiedEmailMixin):
        return [
            checks.Error(
                f"The user model {settings.AUTH_USER_MODEL} does not include VerifiedEmailMixin.",
                hint=(
                    "Add django_verified_email.models.VerifiedEmailMixin to the bases of "
                    "your custom user model and run makemigrations."
                ),
                obj=user_model,
                id="verified_email.E001",
            )
        ]
    return []


@checks.register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    user_values = app_settings.user_values
    if not isinstance(user_values, dict):
        return [
            checks.Error(
                "VERIFIED_EMAIL must be a dict.",
                id="verified_email.E002",
            )
        ]
    for key in sorted(set(user_values) - set(DEFAULTS)):
        errors.append(
            checks.Error(
                f"VERIFIED_EMAIL has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="verified_email.E002",
            )
        )
    for key in ("LINK_MAX_AGE", "REAUTH_MAX_ATTEMPTS", "REAUTH_LOCKOUT", "RESEND_COOLDOWN"):
        value = user_values.get(key, DEFAULTS[key])
        minimum = 0 if key == "RESEND_COOLDOWN" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            errors.append(
                checks.Error(
                    f"VERIFIED_EMAIL[{key!r}] must be a whole number of at least {minimum}.",
                    id="verified_email.E003",
                )
            )
    if user_values.get("DELIVERY", DEFAULTS["DELIVERY"]) not in DELIVERY_MODES:
        errors.append(
            checks.Error(
                f"VERIFIED_EMAIL['DELIVERY'] must be one of {', '.join(DELIVERY_MODES)}.",
                id="verified_email.E004",
            )
        )
    base_url = user_values.get("BASE_URL")
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("https://", "http://"))
    ):
        errors.append(
            checks.Error(
                "VERIFIED_EMAIL['BASE_URL'] must start with https:// or http://.",
                id="verified_email.E005",
            )
        )
    return errors
