"""allauth's ``email_confirmed`` / ``email_changed``, sent when this app's flows act.

A host's receivers of allauth's signals keep working when the address is
changed or verified through this app. They get what allauth sends
(``sender=EmailAddress``):

- ``email_confirmed(request, email_address)``: when an address is verified
  (this app's ``email_verified``), and for the new address of a completed
  change, before ``email_changed``, as allauth does with
  ``ACCOUNT_CHANGE_EMAIL``;
- ``email_changed(request, user, from_email_address, to_email_address)``:
  when a change completes (``email_changed``) and when a revert gives the old
  address back (``email_change_reverted``: from the discarded address to the
  restored one).

``request`` is the request being answered when ``AllauthGuardMiddleware`` is
installed, and None outside a request (a management command, a task worker).
The ``EmailAddress`` arguments are the user's rows for those addresses when
they exist; otherwise unsaved instances carrying the user, the address and
its state (``pk`` is None).

Sent after this app's transaction commits, as this app's own signals are. A
receiver that fails is logged, not raised, and does not stop the others.
"""

import logging
from typing import Any

from allauth.account import signals as allauth_signals
from allauth.account.models import EmailAddress
from django.dispatch import Signal, receiver

from ... import signals
from .middleware import current_request

logger = logging.getLogger(__name__)


def email_address(user: Any, email: str, *, primary: bool, verified: bool) -> EmailAddress:
    """Return the user's ``EmailAddress`` row for ``email``, or an unsaved one like it."""
    row = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if row is not None:
        return row
    return EmailAddress(user=user, email=email, primary=primary, verified=verified)


def _send(signal: Signal, **kwargs: Any) -> None:
    for target, result in signal.send_robust(sender=EmailAddress, **kwargs):
        if isinstance(result, Exception):
            logger.error("A receiver of an allauth signal failed: %r", target, exc_info=result)


@receiver(signals.email_verified, dispatch_uid="verified_email_allauth.email_verified")
def send_email_confirmed(sender, *, user, email, **kwargs):
    confirmed = email_address(user, email, primary=True, verified=True)
    _send(allauth_signals.email_confirmed, request=current_request(), email_address=confirmed)


@receiver(signals.email_changed, dispatch_uid="verified_email_allauth.email_changed")
def send_email_changed(sender, *, user, change, old_email, new_email, **kwargs):
    request = current_request()
    to_address = email_address(user, new_email, primary=True, verified=True)
    from_address = (
        email_address(
            user,
            old_email,
            primary=False,
            # The old address proved itself only on the dual-link path.
            verified=change.old_confirmed_at is not None,
        )
        if old_email
        else None
    )
    _send(allauth_signals.email_confirmed, request=request, email_address=to_address)
    _send(
        allauth_signals.email_changed,
        request=request,
        user=user,
        from_email_address=from_address,
        to_email_address=to_address,
    )


@receiver(signals.email_change_reverted, dispatch_uid="verified_email_allauth.email_reverted")
def send_email_changed_back(sender, *, user, restored_email, discarded_email, **kwargs):
    _send(
        allauth_signals.email_changed,
        request=current_request(),
        user=user,
        from_email_address=email_address(user, discarded_email, primary=False, verified=False),
        to_email_address=email_address(user, restored_email, primary=True, verified=True),
    )
