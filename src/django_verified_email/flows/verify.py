"""Verify: one link to the user's current address; using it marks the address verified."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from .. import addresses, emails, signals, throttle, tokens
from ..delivery import atomic_outbox
from ..exceptions import AlreadyVerified, EmailTaken, InvalidToken, NoEmail, VerifiedEmailError
from ..models import EmailChange, VerifiedUser
from ..stores import get_store
from . import _common, links


def send_verification(user: VerifiedUser, *, base_url: str | None = None) -> None:
    """Send (or re-send) a verification link to the user's current address."""
    if not addresses.of_user(user):
        raise NoEmail
    if get_store().is_verified(user):
        raise AlreadyVerified
    with throttle.send_cooldown(user, throttle.VERIFY, addresses.of_user(user)) as cooldown:
        cooldown.claim()
        with atomic_outbox() as outbox:
            # verification_sent goes out with the message (delivery.SENT_SIGNALS).
            outbox.email(emails.VERIFY, user=user, base_url=base_url)


def _open(token: object, *, lock: bool) -> VerifiedUser:
    return links.open_link(links.VERIFY, token, lock=lock).user


def check_verification(token: object) -> VerifiedUser:
    """Return the user a verification link is for, without using the link up."""
    return _open(token, lock=False)


def confirm_verification(token: object) -> VerifiedUser:
    """Use a verification link: the user's current address becomes verified.

    A pending single-link change is superseded (``verify_step``).
    """
    return verify_step(lambda: _open(token, lock=True))


def verify_step(locate: Callable[[], VerifiedUser | VerifiedEmailError]) -> VerifiedUser:
    """Mark verified the user ``locate`` finds and locks, in one transaction.

    ``locate`` runs inside it and returns the locked user, or an error to
    raise once the transaction commits (a wrong code must stay counted).
    """
    refusal = None
    with atomic_outbox() as outbox:
        located = locate()
        if isinstance(located, VerifiedEmailError):
            refusal = located
        else:
            user = located
            now = timezone.now()
            address = addresses.of_user(user)
            _common.hold_address(user, address)
            if _common.proved_by_other(user, address) or not get_store().mark_verified(user, now):
                # Another account proved this address first (a user model
                # without a unique rule lets two accounts share one).
                raise EmailTaken
            # A pending single-link change (opened while the address was
            # unverified, so it skips the old address) is superseded: from
            # now on, moving the account needs the dual-link flow.
            EmailChange.objects.pending_for(user).filter(old_confirmed_at__isnull=True).exclude(
                status=EmailChange.Status.AWAITING_OLD
            ).update(status=EmailChange.Status.SUPERSEDED, closed_at=now)
            outbox.signal(signals.email_verified, user=user, email=addresses.of_user(user))
    if refusal is not None:
        raise refusal
    return user


def resend_verification_for_expired_link(
    token: object, user: VerifiedUser, *, base_url: str | None = None
) -> None:
    """Send a fresh verification link in place of an expired (or any) one.

    For the expired-link page's button: the old link is posted back, and only
    the user it was sent to may swap it for a new one, so the request needs no
    CSRF token (browsers send "Origin: null" from no-referrer token pages).
    """
    if not tokens.same_id(links.read(links.VERIFY, token).user_id, user.pk):
        raise InvalidToken
    send_verification(user, base_url=base_url)
