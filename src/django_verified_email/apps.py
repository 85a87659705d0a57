from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerifiedEmailConfig(AppConfig):
    name = "django_verified_email"
    label = "verified_email"
    verbose_name = _("Verified email")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported for their side effects: registering system checks, the
        # receiver that re-reads settings under override_settings, and the
        # task deliveries whose framework is installed (``delivery``).
        from . import checks, conf, tasks  # noqa: F401
