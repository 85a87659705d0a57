"""Deny: the old address says "this wasn't me" to a change waiting for it.

The old-address link's page offers it beside Confirm (the same token, posted
with ``deny=1``). The change closes as ``denied``, and the account is taken
back as after a revert (``takeover.retire_access``): every session ends and
the password in use stops working, since whoever asked for the change knew
it. Both addresses are told; the old one gets a "set a new password" link.

Any old-address link of the account's that its step never confirmed
refuses, also one a resend replaced or of a change a later request
superseded: the account's open change is what closes (``links.DENY``).
"""

from __future__ import annotations

import logging

from django.utils import timezone

from .. import emails, signals
from ..delivery import Outbox
from ..exceptions import InvalidToken
from ..models import EmailChange
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
