"""Revert: the "this wasn't me" link of a completed change puts the old address back."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import addresses, emails, signals
from ..delivery import Outbox
from ..exceptions import EmailTakenMeanwhile
from ..models import EmailChange
from ..request_context import RequestContext, refused_fields
from . import _common, links, takeover

Status = EmailChange.Status


def _open(token: object, *, lock: bool) -> EmailChange:
    change = links.open_link(links.REVERT, token, lock=lock).change
    assert change is not None
    return change


def check_revert(token: object) -> EmailChange:
    """Return the completed change a "this wasn't me" link would undo, without using it."""
    return _open(token, lock=False)


def confirm_revert(
    token: object, *, base_url: str | None = None, context: RequestContext | None = None
) -> EmailChange:
    """Use a "this wasn't me" link: put the old address back and take the account back.

    The old address becomes the account's address again, verified (it proved
    itself by this link). An account that only typed that address since
    loses it (``_common.claim_address``); one that proved it blocks the
    revert (``EmailTakenMeanwhile``). Any pending change is cancelled, new
    changes are refused for ``CHANGE_LOCK_AFTER_REVERT`` seconds, and
    ``takeover.retire_access`` ends every session and retires the password.
    The discarded address gets a notice, the restored one a confirmation
    with a "set a new password" link. ``context``: where the request came
    from (``web.request_context``), kept on the change for those emails;
    None outside a request.
    """

    def revert(outbox: Outbox) -> EmailChange:
        change = _open(token, lock=True)
        now = timezone.now()
        discarded = addresses.of_user(change.user)
        _restore_old_address(outbox, change, now)
        _take_account_back(change, now, context)
        outbox.email(emails.CHANGE_REVERTED_NEW, user=change.user, change=change, base_url=base_url)
        outbox.email(emails.CHANGE_REVERTED_OLD, user=change.user, change=change, base_url=base_url)
        outbox.signal(
            signals.email_change_reverted,
            user=change.user,
            change=change,
            restored_email=change.old_email,
            discarded_email=discarded,
        )
        return change

    return _common.taking_back(revert)


def _restore_old_address(outbox: Outbox, change: EmailChange, now: datetime) -> None:
    """Give the (locked) user the change's old address back, verified, or raise."""
    # An account that only typed the address does not block the way back.
    if not _common.claim_address(change.user, change.old_email, outbox) or not (
        _common.set_verified_address(change.user, change.old_email, now, end_sessions=True)
    ):
        raise EmailTakenMeanwhile(
            _(
                "Your old email address now belongs to another account, so the change "
                "cannot be undone here. Please contact support."
            )
        )


def _take_account_back(change: EmailChange, now: datetime, context: RequestContext | None) -> None:
    """Cancel what is pending, retire access, and mark this change and the later ones undone."""
    user = change.user
    EmailChange.objects.pending_for(user).update(status=Status.CANCELLED, closed_at=now)
    takeover.retire_access(user)
    takeover.revoke_access(change)
    # This change and every later one are undone: their own revert links
    # (the later ones went to addresses the taker may control) die too.
    EmailChange.objects.completed_since(change).update(reverted_at=now)
    change.reverted_at = now
    refused = refused_fields(context)
    if refused:
        # On the change whose link was used: the one its emails read.
        EmailChange.objects.filter(pk=change.pk).update(**refused)
        for field, value in refused.items():
            setattr(change, field, value)
