"""Revert: the "this wasn't me" link of a completed change puts the old address back.

The link alone proves only the old mailbox, and a mailbox the owner moved
away from may be someone else's. So a revert is immediate only with a
password the account had (``passwords.proves_ownership``); without one it is
scheduled: it completes ``RECOVERY_DELAY`` seconds later
(``complete_due_reverts``), unless the new address keeps the change with the
link it is sent (``confirm_keep``). A scheduled revert ends nothing until it
completes, and hands out no "set a new password" link: the restored mailbox
uses the site's password reset.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import addresses, emails, passwords, signals, throttle
from ..conf import app_settings
from ..delivery import Outbox, atomic_outbox, signal_after_commit
from ..exceptions import DeliveryFailed, EmailTakenMeanwhile, LockedOut
from ..models import EmailChange
from ..request_context import RequestContext, refused_fields
from . import _common, links, takeover

logger = logging.getLogger("django_verified_email")

Status = EmailChange.Status


def _open(token: object, *, lock: bool) -> EmailChange:
    change = links.open_link(links.REVERT, token, lock=lock).change
    assert change is not None
    return change


def check_revert(token: object) -> EmailChange:
    """Return the completed change a "this wasn't me" link would undo, without using it."""
    return _open(token, lock=False)


def confirm_revert(
    token: object,
    *,
    password: object = None,
    base_url: str | None = None,
    context: RequestContext | None = None,
) -> EmailChange:
    """Use a "this wasn't me" link: put the old address back, now or after the wait.

    With ``password`` a password the account had from ``RECOVERY_DELAY``
    before the change was requested until it completed, or the current one,
    the revert is immediate: the old address becomes the account's address
    again, verified (it proved itself by this link). An account that only
    typed that address since loses it (``_common.claim_address``); one that
    proved it blocks the revert (``EmailTakenMeanwhile``). Any pending change
    is cancelled, new changes are refused for ``CHANGE_LOCK_AFTER_REVERT``
    seconds, and ``takeover.retire_access`` ends every session and retires
    the password. The discarded address gets a notice, the restored one a
    confirmation with a "set a new password" link.

    Without one (a wrong one counts as a failed re-authentication), the
    revert is scheduled on the change (``revert_due_at``) and nothing else
    happens yet: the new address gets a "keep the change" link, the old one
    hears when the revert completes. ``change.reverted_at`` says which it
    was. ``context``: where the request came from (``web.request_context``),
    kept on the change for those emails; None outside a request.
    """

    def revert(outbox: Outbox) -> EmailChange:
        change = _open(token, lock=True)
        now = timezone.now()
        if _proves_ownership(change, password):
            if change.revert_scheduled_at is not None:
                # Proved now: an immediate revert, as if none had waited.
                change.revert_scheduled_at = change.revert_due_at = None
                change.save(update_fields=["revert_scheduled_at", "revert_due_at"])
            _revert(outbox, change, now, context, base_url)
        elif change.revert_due_at is None:
            _schedule(outbox, change, now, context, base_url)
        return change

    return _common.taking_back(revert)


def _proves_ownership(change: EmailChange, password: object) -> bool:
    """Check ``password`` under the re-authentication limit; a wrong one counts as a failure."""
    if password is None or password == "":
        return False
    user = change.user
    try:
        attempt = throttle.take_attempt(user)
    except LockedOut:
        return False
    if passwords.proves_ownership(change, password):
        throttle.reset_attempts(user)
        return True
    signal_after_commit(signals.reauthentication_failed, user=user, attempts=attempt)
    if attempt >= app_settings.REAUTH_MAX_ATTEMPTS:
        seconds = throttle.lock(user)
        signal_after_commit(signals.user_locked_out, user=user, retry_after=seconds)
    return False


def _schedule(
    outbox: Outbox,
    change: EmailChange,
    now: datetime,
    context: RequestContext | None,
    base_url: str | None,
) -> None:
    change.revert_scheduled_at = now
    change.revert_due_at = now + passwords.delay()
    refused = refused_fields(context)
    for field, value in refused.items():
        setattr(change, field, value)
    change.save(update_fields=["revert_scheduled_at", "revert_due_at", *refused])
    outbox.email(emails.CHANGE_REVERT_KEEP, user=change.user, change=change, base_url=base_url)
    outbox.email(emails.CHANGE_REVERT_SCHEDULED, user=change.user, change=change, base_url=base_url)


def _revert(
    outbox: Outbox,
    change: EmailChange,
    now: datetime,
    context: RequestContext | None,
    base_url: str | None,
) -> None:
    """Revert the locked, revertible ``change`` now, with every effect of a revert."""
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


def check_keep(token: object) -> EmailChange:
    """Return the change whose scheduled revert a "keep the change" link would cancel."""
    change = links.open_link(links.KEEP, token, lock=False).change
    assert change is not None
    return change


def confirm_keep(token: object) -> EmailChange:
    """Use the new address's "keep the change" link: the scheduled revert is cancelled."""
    with atomic_outbox():
        change = links.open_link(links.KEEP, token, lock=True).change
        assert change is not None
        change.revert_scheduled_at = change.revert_due_at = None
        change.save(update_fields=["revert_scheduled_at", "revert_due_at"])
    return change


def due_reverts(now: datetime):
    """Completed changes whose scheduled revert's wait is over."""
    return EmailChange.objects.filter(
        status=Status.COMPLETED, reverted_at__isnull=True, revert_due_at__lte=now
    )


def complete_due_reverts(*, batch_size: int = 100, base_url: str | None = None) -> int:
    """Complete every scheduled revert whose wait is over; return how many completed."""
    now = timezone.now()
    done = 0
    last = 0
    while True:
        ids = list(
            due_reverts(now)
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        last = ids[-1]
        for change_id in ids:
            done += complete_scheduled_revert(change_id, base_url=base_url)


def complete_scheduled_revert(change_id: int, *, base_url: str | None = None) -> bool:
    """Complete one scheduled revert if it is due; return whether it completed.

    The same effects as an immediate revert, except that the restored
    address gets no "set a new password" link (``emails``). A revert that
    can no longer happen (the address was set outside the flows, or the old
    address now belongs to an account that proved it) is dropped and logged.
    """
    try:
        with atomic_outbox() as outbox:
            if not _hold_owner(change_id):
                return False
            change = EmailChange.objects.lock_for_taking(change_id, "old_email")
            now = timezone.now()
            if change is None or change.revert_due_at is None or change.revert_due_at > now:
                return False
            if not links.revertible(change):
                logger.warning("Scheduled revert of change %s dropped: no longer fits", change_id)
                change.revert_due_at = None
                change.save(update_fields=["revert_due_at"])
                return False
            _revert(outbox, change, now, None, base_url)
            return True
    except EmailTakenMeanwhile:
        logger.warning("Scheduled revert of change %s dropped: the old address is taken", change_id)
        EmailChange.objects.filter(pk=change_id, reverted_at__isnull=True).update(
            revert_due_at=None
        )
        return False
    except DeliveryFailed:
        # Committed; only the notices failed (delivery logged them).
        reverted = EmailChange.objects.filter(pk=change_id, reverted_at__isnull=False)
        return reverted.for_write().exists()


def _hold_owner(change_id: int) -> bool:
    """Lock the change's user, with SKIP LOCKED where there is one: another run may hold it."""
    users = get_user_model()._default_manager.select_for_update()
    features = connections[users.db].features
    options = {"skip_locked": True} if features.has_select_for_update_skip_locked else {}
    owner = EmailChange.objects.filter(pk=change_id).values("user_id")[:1]
    held = (
        get_user_model()
        ._default_manager.select_for_update(**options)
        .filter(pk=Subquery(owner))
        .values_list("pk", flat=True)
    )
    return bool(list(held))


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
    # Undone now: a revert still scheduled on an earlier change waits no more.
    EmailChange.objects.filter(user_id=user.pk, reverted_at__isnull=True).exclude(
        revert_due_at=None
    ).exclude(pk=change.pk).update(revert_due_at=None)
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
