"""What several flows share: reading tokens, re-authenticating, taking an address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.db import IntegrityError

from .. import addresses, signals, throttle, tokens
from ..conf import app_settings
from ..delivery import signal_after_commit
from ..exceptions import InvalidToken, LockedOut, WrongPassword
from ..models import VerifiedUser

Link = TypeVar("Link")


def read_token(read: Callable[[object], Link], token: object) -> Link:
    """Return ``read(token)``, with a malformed or forged token as ``InvalidToken``."""
    try:
        return read(token)
    except tokens.BadToken:
        raise InvalidToken from None


def taken_by_other(user: VerifiedUser, address: str) -> bool:
    """Return whether another account has ``address``, however it is spelt."""
    return addresses.users_with_address(address).exclude(pk=user.pk).exists()


def reauthenticate(user: VerifiedUser, password: object) -> None:
    """Check the user's password under the attempt limit, or raise.

    Raises ``WrongPassword``, or ``LockedOut`` once the attempts are used up.
    """
    attempt = throttle.take_attempt(user)
    if isinstance(password, str) and user.check_password(password):
        throttle.reset_attempts(user)
        return
    signal_after_commit(signals.reauthentication_failed, user=user, attempts=attempt)
    if attempt >= app_settings.REAUTH_MAX_ATTEMPTS:
        seconds = throttle.lock(user)
        signal_after_commit(signals.user_locked_out, user=user, retry_after=seconds)
        raise LockedOut(retry_after=seconds)
    raise WrongPassword(attempts_left=app_settings.REAUTH_MAX_ATTEMPTS - attempt)


def set_verified_address(user: VerifiedUser, address: str, now: datetime) -> bool:
    """Give the (locked) user ``address``, verified, and save it.

    Only for an address a link proved: the mixin's ``save()`` would otherwise
    clear the verified flag of an address set by any other path.

    Returns False if the database refuses the address. ``taken_by_other``
    asks what the host's constraint would say, but a rule it cannot read (a
    ``citext`` column, a case-insensitive collation) may fold letters
    otherwise: its refusal is then the answer, not a 500. No savepoint (two
    statements more on every completion): the caller raises at once, so the
    flow's transaction is rolled back and nothing runs in it after the error.
    """
    field = user.get_email_field_name()
    setattr(user, field, address)
    user.mark_email_verified(now)
    try:
        user.save(update_fields=[field, "is_email_verified", "email_verified_at"])
    except IntegrityError:
        return False
    return True
