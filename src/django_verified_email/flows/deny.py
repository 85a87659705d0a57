"""Deny: the old address says "this wasn't me" to a change waiting for it.

The old-address link's page offers it beside Confirm (the same token, posted
with ``deny=1``). The change closes as ``denied``, and the account is taken
back as after a revert (``takeover.retire_access``): every session ends and
the password in use stops working, since whoever asked for the change knew
it. Both addresses are told; the old one gets a "set a new password" link.

Any old-address link of the account's that its step never confirmed
refuses, also one a resend replaced or of a change a later request
superseded: the account's open change is what closes (``links.DENY``).

The old address's code refuses too (``confirm_deny_by_code``), typed by a
request authenticated as the account, as every code is: the live code of
the step the change waits for, counted as every code is.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from .. import codes, emails, signals
from ..delivery import Outbox
from ..exceptions import ExpiredCode, InvalidToken, VerifiedEmailError
from ..models import EmailChange, VerifiedUser
from ..request_context import RequestContext, refused_fields
from . import _common, links, takeover

Status = EmailChange.Status

logger = logging.getLogger("django_verified_email")


def _open(token: object, *, lock: bool) -> EmailChange:
    """Return the account's open change that an old-address link refuses (locked with ``lock``).

    The link's own change while it waits for the old address; for the link
    of a change a later request superseded, the account's open change now
    (``links.DENY`` says which links may refuse). Raises ``InvalidToken``
    when the account has none left to refuse.
    """
    opened = links.open_link(links.DENY, token, lock=lock)
    change = opened.change
    assert change is not None
    if change.is_pending:
        return change
    # Change rows after the user's, in primary-key order: the open change
    # is the later one.
    pending = EmailChange.objects.pending_for(opened.user).order_by("pk")
    if lock:
        pending = pending.select_for_update()
    current = pending.first()
    if current is None:
        logger.debug("Refused a deny link: the account has no open change")
        raise InvalidToken
    current.user = opened.user
    return current


def check_deny(token: object) -> EmailChange:
    """Return the change an old-address link would refuse, without using it."""
    return _open(token, lock=False)


def refuse(
    outbox: Outbox,
    change: EmailChange,
    *,
    base_url: str | None,
    context: RequestContext | None,
) -> None:
    """Close a locked change as ``denied``, with every effect of a deny.

    Shared by the old address's "this wasn't me" and a recovery's "stop this
    change": whoever asked knew the password, so it stops working and every
    session ends (``takeover.retire_access``); both addresses are told.
    """
    change.status = Status.DENIED  # type: ignore[assignment]
    change.closed_at = timezone.now()
    refused = refused_fields(context)
    for field, value in refused.items():
        setattr(change, field, value)
    change.save(update_fields=["status", "closed_at", *refused])
    takeover.retire_access(change.user)
    takeover.revoke_access(change)
    outbox.email(emails.CHANGE_DENIED_OLD, user=change.user, change=change, base_url=base_url)
    outbox.email(emails.CHANGE_DENIED_NEW, user=change.user, change=change, base_url=base_url)
    outbox.signal(signals.email_change_denied, user=change.user, change=change)


def confirm_deny(
    token: object, *, base_url: str | None = None, context: RequestContext | None = None
) -> EmailChange:
    """Use an old-address link to refuse its change: ``denied``, sessions ended, password retired.

    The requester learns nothing useful: the change never happens, and the
    password they used stops working. ``change.user`` is the updated user,
    for ``takeover.set_password_token``. ``context``: where the refusing
    request came from (``web.request_context``), kept on the change for the
    emails that ask "was this me?"; None outside a request.
    """

    def deny(outbox: Outbox) -> EmailChange:
        change = _open(token, lock=True)
        refuse(outbox, change, base_url=base_url, context=context)
        return change

    return _common.taking_back(deny)


def confirm_deny_by_code(
    user: VerifiedUser,
    typed: object,
    *,
    base_url: str | None = None,
    context: RequestContext | None = None,
) -> EmailChange:
    """Refuse the user's change with the code of its old-address email, as its link does.

    ``user`` is who the request is authenticated as: only their own code can
    match. Only while the change waits for the old address: once that step
    was confirmed its code is used, and the revert link covers the rest.
    A wrong code is refused (``InvalidCode``) and stays counted, as on
    every code step; nothing else is written.
    """
    refusal: VerifiedEmailError | None = None

    def deny(outbox: Outbox) -> EmailChange | None:
        nonlocal refusal
        located = _locate_by_code(user, typed)
        if isinstance(located, VerifiedEmailError):
            # Returned, not raised: the wrong try commits.
            refusal = located
            return None
        refuse(outbox, located, base_url=base_url, context=context)
        return located

    change = _common.taking_back(deny)
    if refusal is not None:
        raise refusal
    assert change is not None
    return change


def _locate_by_code(user: VerifiedUser, typed: object) -> EmailChange | VerifiedEmailError:
    """Lock the user's change waiting for the old address, and use its code on it."""
    pending = EmailChange.objects.pending_for(user).first()
    if pending is None or pending.status != Status.AWAITING_OLD:
        logger.debug("Refused a deny code: no change waits for the old address")
        return ExpiredCode()
    change = EmailChange.objects.lock_with_user(pending.pk)
    if (
        change is None
        or change.status != Status.AWAITING_OLD
        or change.user_id != user.pk
        or not change.user.is_active
    ):
        logger.debug("Refused a deny code: the change moved on meanwhile")
        return ExpiredCode()
    return codes.use(codes.CHANGE_OLD, change.user, typed, change=change) or change
