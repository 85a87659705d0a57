"""The ``VERIFIED_EMAIL`` settings dict, read once with defaults.

Read a value as ``app_settings.LINK_MAX_AGE``. The cache is dropped whenever
``VERIFIED_EMAIL`` changes (``override_settings`` in tests).
"""

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS = {
    "LINK_MAX_AGE": 86400,  # seconds: 1 day
    "REAUTH_MAX_ATTEMPTS": 5,  # wrong passwords
    "REAUTH_LOCKOUT": 900,  # seconds: 15 minutes
    "RESEND_COOLDOWN": 60,  # seconds: 1 minute
    "REVEAL_TAKEN_EMAIL": True,
    "NOTIFY_OLD_EMAIL": True,
    "DELIVERY": "sync",  # or "tasks", "celery"
    "BASE_URL": None,  # e.g. "https://example.com"; None: the request's host
    "CACHE": "default",  # cache alias
    "SUCCESS_URL": None,  # None: the status page
    "REVERT_MAX_AGE": 604800,  # seconds: 7 days
    "CHANGE_LOCK_AFTER_REVERT": 86400,  # seconds: 1 day
    # A completed change ends the account's other sessions; a revert or a
    # deny ends every session whatever this says.
    "LOGOUT_OTHER_SESSIONS": True,
    "PURGE_AFTER": 2592000,  # seconds: 30 days
    "SITE_NAME": None,  # e.g. "Pocket Wallet"; None: the Sites framework's name, else the host
    "SUPPORT_URL": None,  # URL or URL name dead-end pages link to; None: no link
    # Dotted paths of the DRF authentication classes the JSON API accepts,
    # in the order DRF tries them. Not the host's DEFAULT_AUTHENTICATION_CLASSES:
    # DRF's default there includes HTTP Basic, which would let anyone try
    # passwords on the API with no lockout (check W005 when it is named here).
    "API_AUTHENTICATION_CLASSES": ("rest_framework.authentication.SessionAuthentication",),
    # Request context in the security emails (request_context.py).
    "CAPTURE_IP": True,
    "CLIENT_IP_HEADER": None,  # e.g. "X-Forwarded-For"; None: REMOTE_ADDR
    "CLIENT_IP_PROXY_COUNT": 1,  # proxies that append to CLIENT_IP_HEADER
    "USER_TIME_ZONE": None,  # user attribute or dotted path; None: UTC
    # Accept domain literals (a@[10.0.0.5]) and dotless hosts (root@localhost).
    "ALLOW_LOCAL_ADDRESSES": False,
    "CODE_MAX_AGE": 900,  # seconds: 15 minutes
    "CODE_MAX_ATTEMPTS": 5,  # wrong codes per code, then it is used up
    "CODE_MAX_ATTEMPTS_PER_DAY": 20,  # wrong codes per account per 24 hours
    # Each change request mails an address the account may not own: a
    # budget per account, so nobody mails anyone without end through it.
    "CHANGE_REQUESTS_PER_DAY": 10,  # change requests per account per 24 hours
    "CHANGE_EMAILS_PER_DAY": 30,  # change link emails per account per 24 hours
    # Lost old mailbox (flows/recovery.py): seconds a recovery waits, after
    # the new address proved itself, before it completes; None turns the
    # path off (``recovery_disabled``).
    "RECOVERY_DELAY": 604800,  # seconds: 7 days
    # Dotted path of a callable ``(request, user) -> bool``: whether the
    # request that asks for a recovery passed the host's second factor. When
    # it did, the recovery completes as soon as the new address is confirmed.
    "RECOVERY_SECOND_FACTOR": None,
    # Dotted paths of ``callable(user, *, since)`` that end a way into the
    # account on a take-back (revokers.py); None: the built-in ones for
    # what is installed (DRF tokens, simplejwt, knox, django-otp, allauth.mfa).
    "ACCESS_REVOKERS": None,
    # Dotted path of a second factor of the host's own (``second_factor.SecondFactor``),
    # checked before a change besides the built-in ones for what is installed
    # (django-otp, allauth.mfa); None: the built-in ones only.
    "REAUTHENTICATE": None,
    # Dotted path of a callable ``(user, address) -> bool`` that takes an
    # address off an account that never proved it, where the store cannot
    # blank it (the address is the login name, or required): True once done,
    # False to refuse. None: such an account keeps the address and blocks
    # (stores/unproven.py).
    "RELEASE_UNPROVEN_HOLDER": "django_verified_email.stores.unproven.release_unproven_holder",
}

DELIVERY_MODES = ("sync", "tasks", "celery")


#: The allauth bridge's app, as INSTALLED_APPS names it (or its AppConfig).
ALLAUTH_BRIDGE = "django_verified_email.contrib.allauth"


def host_defaults() -> dict[str, Any]:
    """Return the defaults that follow the host's other packages, over ``DEFAULTS``.

    With the allauth bridge installed and allauth's enumeration prevention on
    (``ACCOUNT_PREVENT_ENUMERATION``, True by default, or ``"strict"``), a
    taken address is not revealed either: ``REVEAL_TAKEN_EMAIL`` defaults to
    False. What the host sets in ``VERIFIED_EMAIL`` wins. Read from the
    settings, not the app registry, so it answers before the registry is ready.
    """
    installed = getattr(settings, "INSTALLED_APPS", None) or []
    bridge = any(
        isinstance(name, str) and (name == ALLAUTH_BRIDGE or name.startswith(f"{ALLAUTH_BRIDGE}."))
        for name in installed
    )
    if bridge and getattr(settings, "ACCOUNT_PREVENT_ENUMERATION", True):
        return {"REVEAL_TAKEN_EMAIL": False}
    return {}


class AppSettings:
    def __init__(self):
        self._values = None

    def _load(self):
        user_values = getattr(settings, "VERIFIED_EMAIL", None) or {}
        return {**DEFAULTS, **host_defaults(), **user_values}

    @property
    def user_values(self):
        """What the host set, without defaults (the system checks validate it)."""
        return getattr(settings, "VERIFIED_EMAIL", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown VERIFIED_EMAIL setting: {name}")
        if self._values is None:
            self._values = self._load()
        return self._values[name]

    def reload(self):
        self._values = None


app_settings = AppSettings()


@receiver(setting_changed)
def _reload_app_settings(*, setting, **kwargs):
    # The host defaults follow these two (host_defaults).
    if setting in ("VERIFIED_EMAIL", "INSTALLED_APPS", "ACCOUNT_PREVENT_ENUMERATION"):
        app_settings.reload()
