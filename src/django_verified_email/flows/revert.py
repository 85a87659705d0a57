"""Revert: the "this wasn't me" link of a completed change puts the old address back."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import addresses, emails, signals, tokens
from ..delivery import Outbox
from ..exceptions import EmailTakenMeanwhile, ExpiredToken, InvalidToken
from ..models import EmailChange
from ..request_context import RequestContext, refused_fields
from . import _common, takeover

Status = EmailChange.Status


def _change_for_token(token: object, *, lock: bool) -> EmailChange:
    link = _common.read_token(tokens.read_revert_token, token)
    change: EmailChange | None
    if lock:
        # Taking the old address back is taking an address: the same locks as
        # a completion, so a revert and another account's change to that
        # address cannot both win.
        change = EmailChange.objects.lock_for_taking(link.change_id, "old_email")
    else:
        change = EmailChange.objects.select_related("user").filter(pk=link.change_id).first()
    if (
        change is None
        or not tokens.same_id(link.user_id, change.user_id)
        or change.status != Status.COMPLETED
        or change.reverted_at is not None
        or not change.old_email
        or not change.user.is_active
        or not _address_still_set_by_changes_since(change)
    ):
        raise InvalidToken
    if link.expired:
        raise ExpiredToken(
            _(
                "This link has expired: a change can only be undone for a limited time. "
                "Please contact support."
            )
        )
    return change


def _address_still_set_by_changes_since(change: EmailChange) -> bool:
    """Return whether the account's address is the one this flow last gave it.

    Later changes made through the flows do not void the way back: whoever
    took an account over could otherwise change the address once more, to
    send the next notice to a mailbox of theirs, and so kill the real owner's
    link. An address set outside the app does: the link no longer describes
    the account.
    """
    latest = EmailChange.objects.completed_since(change).order_by("-pk").first()
    return latest is not None and addresses.same_address(
        addresses.of_user(change.user), latest.new_email
    )


def check_revert(token: object) -> EmailChange:
    """Return the completed change a "this wasn't me" link would undo, without using it."""
    return _change_for_token(token, lock=False)


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
        change = _change_for_token(token, lock=True)
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
