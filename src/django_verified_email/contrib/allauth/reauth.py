"""Re-authentication without a password, as allauth's ``ACCOUNT_REAUTHENTICATION_METHODS`` allows.

allauth lets a user re-authenticate by ``"password"``, ``"code"`` (a code by
email) and ``"mfa"``, as the host lists. The bridge maps the two that stand
in for a password onto this app's (``reauth_methods``):

- ``"code"`` → a code to the verified current address, unless allauth is
  social-only (``SOCIALACCOUNT_ONLY``: allauth sends no code then either);
- ``"mfa"`` → the user's second factor's one-time password alone.

``"password"`` is not consulted: a user with a usable password always types
it before a change, as without allauth.
"""

from __future__ import annotations

from typing import Any

from ... import reauth_methods


def passwordless_methods(user: Any) -> frozenset[str]:
    """The ways ``user`` (no usable password) may re-authenticate, as allauth's settings allow."""
    from allauth import app_settings as allauth_settings
    from allauth.account import app_settings as account_settings

    allowed = account_settings.REAUTHENTICATION_METHODS
    found = set()
    if "code" in allowed and not allauth_settings.SOCIALACCOUNT_ONLY:
        found.add(reauth_methods.CODE)
    if "mfa" in allowed:
        found.add(reauth_methods.SECOND_FACTOR)
    return frozenset(found)
