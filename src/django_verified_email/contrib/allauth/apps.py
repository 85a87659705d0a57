from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerifiedEmailAllauthConfig(AppConfig):
    name = "django_verified_email.contrib.allauth"
    # Distinct from allauth's "account" and from the core's "verified_email".
    label = "verified_email_allauth"
    verbose_name = _("Verified email for django-allauth")

    def ready(self):
        from ...reauth_methods import use_policy
        from ...stores import use_store

        # Imported for their side effects: the system checks, and the
        # receivers that pass this app's signals on as allauth's.
        from . import checks, receivers  # noqa: F401
        from .reauth import passwordless_methods
        from .store import AllauthStore

        # allauth's EmailAddress table becomes the record of the address.
        use_store(AllauthStore)
        # A user without a password re-authenticates as allauth allows.
        use_policy(passwordless_methods)
