"""Re-authenticating without a password: a one-time code to the verified current address,
or the user's second factor alone, as the host allows (``reauth_methods``).

A user who has no usable password (a social login) cannot type one before a
change: they type a code sent to the verified address the account has now
(``codes.REAUTH``). It is checked as a password is (``_common.reauthenticate``:
the same lockout), and as every code is (its own limits of wrong tries). A
recovery (``old_email_lost``) cannot use it: the code would go to the very
mailbox the user says they lost.

Where the host does not allow the code (``reauth_methods``), a user with a
second factor that takes a one-time password re-authenticates with that alone
(``SECOND_FACTOR``); one with neither way is refused
(``ReauthenticationUnavailable``), never left to type a password they lack.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from .. import addresses, codes, emails, reauth_methods, second_factor, throttle
from ..delivery import atomic_outbox
from ..exceptions import PasswordRequired, ReauthenticationUnavailable
from ..models import VerifiedUser
from ..stores import get_store

#: How a user re-authenticates before a change (``reauthentication``).
PASSWORD = "password"
CODE = "code"
SECOND_FACTOR = "second_factor"
NONE = "none"


def reauthentication(user: VerifiedUser) -> str:
    """Return how ``user`` re-authenticates before a change.

    ``"password"``; ``"code"`` (no usable password: a code to the verified
    address); ``"second_factor"`` (no usable password, no code allowed: a
    one-time password of the user's second factor alone); ``"none"`` (no
    usable password and no way the host allows: refused). A user without a
    password whose address is not verified yet, where the code is allowed,
    stays on ``"password"``, as the code waits for a verified address.
    """
    if codes.may_reauthenticate_by_code(user):
        return CODE
    if user.has_usable_password():
        return PASSWORD
    allowed = reauth_methods.passwordless_methods(user)
    if reauth_methods.SECOND_FACTOR in allowed and second_factor.takes_otp(user):
        return SECOND_FACTOR
    if reauth_methods.CODE in allowed:
        return PASSWORD
    return NONE


def send_reauth_code(user: VerifiedUser, *, base_url: str | None = None) -> str:
    """Send a re-authentication code to the user's verified current address; return the address.

    Raises ``PasswordRequired`` for an account that re-authenticates with a
    password (or whose address is not verified: no code goes to an
    unproved address), ``ReauthenticationUnavailable`` for one without a
    password where the host allows no code, ``Throttled`` within ``RESEND_COOLDOWN``. A new code
    replaces the one sent before.
    """
    if not codes.may_reauthenticate_by_code(user):
        _refuse_code(user)
    address = addresses.of_user(user)
    with throttle.send_cooldown(user, codes.REAUTH, address) as cooldown:
        cooldown.claim()
        with atomic_outbox() as outbox:
            locked = get_store().lock_user(user.pk)
            if locked is None or not codes.may_reauthenticate_by_code(locked):
                raise PasswordRequired
            outbox.email(emails.REAUTH_CODE, user=locked, base_url=base_url)
    return address


def _refuse_code(user: VerifiedUser) -> None:
    """Say why no code is sent: the account has a password, or the host allows no code."""
    if user.has_usable_password() or reauth_methods.CODE in reauth_methods.passwordless_methods(
        user
    ):
        raise PasswordRequired
    if reauthentication(user) == SECOND_FACTOR:
        raise ReauthenticationUnavailable(
            _("We send no codes by email here: use the code from your authenticator app.")
        )
    raise ReauthenticationUnavailable
