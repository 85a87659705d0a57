"""Revert: the "this wasn't me" link of a completed change puts the old address back."""

from __future__ import annotations

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
        user = change.user
        now = timezone.now()
        discarded = addresses.of_user(user)
        # An account that only typed the address does not block the way back.
        if not _common.claim_address(user, change.old_email, outbox) or not (
            _common.set_verified_address(user, change.old_email, now, end_sessions=True)
        ):
            raise EmailTakenMeanwhile(
                _(
                    "Your old email address now belongs to another account, so the change "
                    "cannot be undone here. Please contact support."
                )
            )
        EmailChange.objects.pending_for(user).update(status=Status.CANCELLED, closed_at=now)
        takeover.retire_access(user)
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
        outbox.email(emails.CHANGE_REVERTED_NEW, user=user, change=change, base_url=base_url)
        outbox.email(emails.CHANGE_REVERTED_OLD, user=user, change=change, base_url=base_url)
        outbox.signal(
            signals.email_change_reverted,
            user=user,
            change=change,
            restored_email=change.old_email,
            discarded_email=discarded,
        )
        return change

    return _common.taking_back(revert)
