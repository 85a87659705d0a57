"""Change: a new address, proved by a link to the old address and then one to the new.

A verified current address makes it the dual-link flow (``awaiting_old``,
then ``awaiting_new``); an unverified or empty one sends a single link to
the new address (``awaiting_new``). Completing gives the user the new
address, verified.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import addresses, emails, passwords, signals, throttle, tokens
from ..conf import app_settings
from ..delivery import Outbox, atomic_outbox
from ..exceptions import (
    DeliveryFailed,
    EmailTaken,
    EmailTakenMeanwhile,
    InvalidEmail,
    InvalidToken,
    LockedOut,
    NoPendingChange,
    RevertPending,
    SameEmail,
    Throttled,
    VerifiedEmailError,
    WrongPassword,
)
from ..models import EmailChange, VerifiedUser, write_database
from ..request_context import RequestContext
from ..second_factor import Proof
from ..stores import get_store
from ..tokens import Step
from . import _common, links, recovery, takeover

Status = EmailChange.Status


def request_change(
    user: VerifiedUser,
    new_email: object,
    password: object,
    *,
    base_url: str | None = None,
    context: RequestContext | None = None,
    old_email_lost: bool = False,
    second_factor: bool = False,
    second_factor_proof: Proof | None = None,
    code: object = None,
) -> EmailChange:
    """Start a change to ``new_email``, re-authenticating with ``password``.

    A verified current address makes it the dual-link flow (``awaiting_old``);
    an unverified or empty one sends a single link to the new address
    (``awaiting_new``). Any pending change of the user is superseded.
    ``context``: where the request came from (``web.request_context``), kept
    on the change for the emails that ask "was this me?"; None outside a
    request.

    ``old_email_lost``: the user can no longer open their verified current
    address, so it is a recovery (``recovery.py``): the link goes to the new
    address only, the old one gets a "stop this change" notice, and the
    change waits ``RECOVERY_DELAY`` once confirmed, unless ``second_factor``
    (the request passed the host's second factor).

    ``second_factor_proof``: what the request brings toward the user's
    second factor (``second_factor.Proof``, built by ``web``), checked with
    the password (``_common.reauthenticate``); None checks none. A
    one-time password it carried that was accepted is a second factor
    passed in this request: a recovery then skips its wait too.

    ``code``: for a user without a usable password, the code
    ``send_reauth_code`` sent to their verified address, in place of
    ``password`` (``reauth.reauthentication`` says which one applies).
    """
    if old_email_lost:
        recovery.check_enabled()
    new_email = _valid_address(user, new_email)
    # Refuses a locked account too (the attempt is not taken then).
    _common.reauthenticate(user, password, second_factor_proof, code=code, recovery=old_email_lost)
    if second_factor_proof is not None and second_factor_proof.otp_accepted:
        second_factor = True
    with (
        _common.attempts_forgotten_on_failure(user),
        throttle.send_cooldown(user, throttle.CHANGE, new_email) as cooldown,
    ):
        if addresses.same_address(addresses.of_user(user), new_email):
            raise SameEmail
        now = timezone.now()
        with atomic_outbox() as outbox:
            locked = _lock_for_request(user, new_email, now)
            _check_spent(locked.verified_email_budget_spent, now, requests=True)
            # Only now, so bad input is reported before "wait a bit".
            cooldown.claim()
            change = _replace_pending(
                locked,
                new_email,
                now,
                context,
                lost=old_email_lost,
                second_factor=second_factor,
                base_url=base_url,
            )
            # The password of this moment proves the owner in a revert.
            passwords.remember(locked, now)
            _queue_first_step(outbox, change, base_url, taken=locked.verified_email_address_taken)
            outbox.signal(signals.email_change_requested, user=locked, change=change)
    return change


def _check_daily_budget(locked: VerifiedUser, now: datetime, *, requests: bool) -> None:
    """Refuse one more change request (``requests``) or link email over the account's budget.

    Each request mails an address the account may not own (its new address,
    or that address's owner), so without a budget one account could mail
    anyone without end by asking again, or by resending, with new
    addresses. ``CHANGE_REQUESTS_PER_DAY`` counts the account's requests over
    the last 24 hours, ``CHANGE_EMAILS_PER_DAY`` the link emails their
    changes sent (every ``link_generation``, resends included) while their
    links were live in that time. Read under the user's lock, so parallel
    requests cannot overspend it. Raises ``Throttled``, with the seconds
    until the oldest counted one leaves the window.
    """
    since = now - _BUDGET_WINDOW
    rows = EmailChange.objects.using(write_database(locked)).filter(
        user_id=locked.pk, link_sent_at__gt=since
    )
    spent = rows.aggregate(
        requests=Count("pk", filter=Q(created_at__gt=since)),
        emails=Sum("link_generation"),
        oldest_request=Min("created_at", filter=Q(created_at__gt=since)),
        oldest_email=Min("link_sent_at"),
    )
    _check_spent(spent, now, requests=requests)


def _check_spent(spent: dict[str, Any], now: datetime, *, requests: bool) -> None:
    """Raise ``Throttled`` if ``spent`` (``_check_daily_budget``'s figures) is over the budget."""
    if requests and spent["requests"] >= app_settings.CHANGE_REQUESTS_PER_DAY:
        raise _over_budget(spent["oldest_request"], now)
    if (spent["emails"] or 0) >= app_settings.CHANGE_EMAILS_PER_DAY:
        raise _over_budget(spent["oldest_email"], now)


def _spent(rows: list[tuple[datetime, datetime | None, int]], now: datetime) -> dict[str, Any]:
    """Return ``_check_daily_budget``'s figures, counted from rows already read.

    ``rows``: ``(created_at, link_sent_at, link_generation)`` of the
    account's changes, those whose link was sent in the window among them
    (the others are left out here, as the aggregate leaves them out).
    """
    since = now - _BUDGET_WINDOW
    counted = [
        (created, sent, generation)
        for created, sent, generation in rows
        if sent is not None and sent > since
    ]
    requested = [created for created, _sent, _generation in counted if created > since]
    return {
        "requests": len(requested),
        "emails": sum(generation for _created, _sent, generation in counted) if counted else None,
        "oldest_request": min(requested, default=None),
        "oldest_email": min((sent for _created, sent, _generation in counted), default=None),
    }


_BUDGET_WINDOW = timedelta(days=1)


def _over_budget(oldest: datetime, now: datetime) -> Throttled:
    seconds = (oldest + _BUDGET_WINDOW - now).total_seconds()
    return Throttled(
        _("You have asked for too many email changes today."),
        retry_after=max(1, math.ceil(seconds)),
    )


def _valid_address(user: VerifiedUser, typed: object) -> str:
    """Return the typed new address, normalized, or raise ``InvalidEmail``."""
    new_email = addresses.normalize(typed) if isinstance(typed, str) else ""
    if not addresses.is_valid(new_email):
        # A locked account hears of its lock first, whatever it typed.
        throttle.check_lockout(user)
        raise InvalidEmail
    return new_email


def _lock_for_request(user: VerifiedUser, new_email: str, now: datetime) -> VerifiedUser:
    """Lock the user's row and check the request again against it; return the locked row."""
    locked = _locked_user_for_new_change(user.pk, new_email, now)
    # The right password's count is forgotten in this transaction, under the
    # user's lock (the order ``take_attempt`` locks in).
    throttle.reset_attempts(user)
    if locked.password != user.password:
        # The password was checked against the row as it was read before the
        # lock; a revert or a deny retired it since.
        raise WrongPassword
    # Read in the lock query whatever REVEAL_TAKEN_EMAIL says, so both
    # settings, and both answers, do exactly the same database work.
    if app_settings.REVEAL_TAKEN_EMAIL and locked.verified_email_address_taken:
        raise EmailTaken
    # The address as the lock reads it: ``user`` may have been loaded before
    # another request changed it, and the first link must go to the
    # account's address, not to the one it had.
    if addresses.same_address(addresses.of_user(locked), new_email):
        raise SameEmail
    return locked


def _replace_pending(
    locked: VerifiedUser,
    new_email: str,
    now: datetime,
    context: RequestContext | None,
    *,
    lost: bool,
    second_factor: bool,
    base_url: str | None,
) -> EmailChange:
    """Supersede the (locked) user's pending change, if any, and create the new one."""
    if locked.verified_email_has_pending_change:
        EmailChange.objects.pending_for(locked).update(status=Status.SUPERSEDED, closed_at=now)
    current = addresses.of_user(locked)
    verified_old = get_store().is_verified(locked) and bool(current)
    # Without a verified old address there is nothing to lose: the
    # single-link flow applies, with no wait.
    lost = lost and verified_old
    dual = verified_old and not lost
    return EmailChange.objects.create(
        # The account as it was asked: staff completion refuses a change its
        # owner may have reacted to since (``recovery.staff_refusal``).
        account_fingerprint=tokens.fingerprint(locked, with_verified_state=False),
        user=locked,
        old_email=current,
        new_email=new_email,
        status=Status.AWAITING_OLD if dual else Status.AWAITING_NEW,
        link_generation=1,
        link_sent_at=now,
        created_at=now,
        old_email_lost=lost,
        second_factor=lost and bool(second_factor),
        # Where emails built outside a request (complete_due) point their links.
        link_base=base_url or "",
        **_context_fields(context),
    )


def _queue_first_step(
    outbox: Outbox, change: EmailChange, base_url: str | None, *, taken: bool
) -> None:
    """Queue the messages a new change sends: the first link, and a recovery's notice."""
    if change.old_email_lost:
        outbox.email(emails.RECOVERY_NOTICE_OLD, user=change.user, change=change, base_url=base_url)
    if change.status == Status.AWAITING_OLD:
        outbox.email(emails.CHANGE_CONFIRM_OLD, user=change.user, change=change, base_url=base_url)
    else:
        _queue_new_address_step(outbox, change, base_url, taken=taken)


def _context_fields(context: RequestContext | None) -> dict[str, object]:
    if context is None:
        return {}
    return {
        "requested_ip": context.ip,
        "requested_browser": context.browser,
        "requested_os": context.os,
    }


def _locked_user_for_new_change(user_id: object, new_email: str, now: datetime) -> VerifiedUser:
    """Lock the user row, then read what starting a change needs.

    Refuses while a recent revert locks changes: a revert means the account
    was probably taken over, and whoever did it may still know the password.
    Also read, onto the returned row: whether another account has
    ``new_email`` (``verified_email_address_taken``), whether the user
    has a pending change to supersede (``verified_email_has_pending_change``;
    most have none: no UPDATE then), and the account's daily budget spent
    (``verified_email_budget_spent``, ``_check_daily_budget``'s figures), in
    the same read as the pending change.

    Read by statements of their own after the lock, not as subqueries of the
    locking statement: on PostgreSQL a ``SELECT ... FOR UPDATE`` that waited
    for another transaction's lock returns the new version of the locked
    row, but its subqueries still read the snapshot taken before the wait. A
    request racing another would miss the change that one just created (and
    hit the one-pending-change constraint: a 500), or a revert that just
    locked changes. (Plain statements are also cheaper to build than
    subqueries.)
    """
    window = timedelta(seconds=app_settings.CHANGE_LOCK_AFTER_REVERT)
    user = get_store().lock_user(user_id)
    if user is None:
        # Deleted since the password was checked: it no longer opens anything.
        raise WrongPassword
    reverted_at = None
    user.verified_email_has_pending_change = False
    # The pending change (at most one) and the reverts still locking changes.
    # And a scheduled revert: the account is on its way back to the old address.
    # And the changes the daily budget counts (their link sent in its window).
    changes = (
        EmailChange.objects.using(write_database(user))
        .filter(user_id=user_id)
        .filter(
            Q(status__in=EmailChange.PENDING_STATUSES)
            | Q(reverted_at__gt=now - window)
            | Q(revert_due_at__isnull=False, reverted_at__isnull=True)
            | Q(link_sent_at__gt=now - _BUDGET_WINDOW)
        )
    )
    revert_pending = False
    budget = []
    for status, reverted, revert_due, created, sent, generation in changes.values_list(
        "status", "reverted_at", "revert_due_at", "created_at", "link_sent_at", "link_generation"
    ):
        budget.append((created, sent, generation))
        if status in EmailChange.PENDING_STATUSES:
            user.verified_email_has_pending_change = True
        if reverted is not None and reverted > now - window:
            reverted_at = max(reverted, reverted_at or reverted)
        if revert_due is not None and reverted is None:
            revert_pending = True
    if revert_pending:
        raise RevertPending
    if reverted_at is not None:
        raise _revert_lock(reverted_at, window, now)
    user.verified_email_budget_spent = _spent(budget, now)
    user.verified_email_address_taken = _common.taken_by_other(user, new_email)
    return user


def _revert_lock(reverted_at: datetime, window: timedelta, now: datetime) -> LockedOut:
    seconds = (reverted_at + window - now).total_seconds()
    return LockedOut(
        _("Email changes are locked for a while because a recent change was undone."),
        retry_after=max(1, math.ceil(seconds)),
    )


def change_lock(user: VerifiedUser) -> LockedOut | None:
    """Return the lock that would refuse a change request now, or None.

    For pages to show before anyone fills in the form: a re-authentication
    lockout, or the lock a revert sets (``CHANGE_LOCK_AFTER_REVERT``). Both
    carry ``retry_after``, the seconds until they end.
    """
    try:
        throttle.check_lockout(user)
    except LockedOut as lockout:
        return lockout
    now = timezone.now()
    window = timedelta(seconds=app_settings.CHANGE_LOCK_AFTER_REVERT)
    reverted_at = (
        EmailChange.objects.filter(user_id=user.pk, reverted_at__gt=now - window)
        .order_by("-reverted_at")
        .values_list("reverted_at", flat=True)
        .first()
    )
    return None if reverted_at is None else _revert_lock(reverted_at, window, now)


def _queue_new_address_step(
    outbox: Outbox, change: EmailChange, base_url: str | None, *, taken: bool | None = None
) -> None:
    """Send the new address its link, or its owner a notice if it is taken.

    With ``REVEAL_TAKEN_EMAIL`` off, both branches run the same query and
    queue one message to the same address, so neither the response nor the
    work done tells the requester which one ran.
    """
    if taken is None:
        taken = _common.taken_by_other(change.user, change.new_email)
    if taken:
        if app_settings.REVEAL_TAKEN_EMAIL:
            # Taken since the request was accepted: a conflict, not bad input.
            raise EmailTakenMeanwhile
        # Looks accepted to the requester; the address's owner learns of it.
        outbox.email(emails.EMAIL_TAKEN_NOTICE, user=change.user, change=change, base_url=base_url)
    else:
        # A recovery staff approved has no wait to tell of.
        lost = change.old_email_lost and not recovery.approved_by_staff(change)
        kind = emails.RECOVERY_CONFIRM_NEW if lost else emails.CHANGE_CONFIRM_NEW
        outbox.email(kind, user=change.user, change=change, base_url=base_url)


def read_change_link(token: object) -> tokens.ChangeLink:
    """Return what a change link says (its ``step`` above all) without using it, reading no row.

    Raises ``InvalidToken``. ``confirm_change`` takes what this returns in
    place of the token, and does not read it again.
    """
    return links.read(links.CHANGE, token)


def _step(opened: links.Opened) -> tuple[EmailChange, Step]:
    assert opened.change is not None and opened.step is not None
    return opened.change, opened.step


def check_change(token: object) -> tuple[EmailChange, Step]:
    """Return the change and ``Step`` a link is for, without using it."""
    return _step(links.open_link(links.CHANGE, token, lock=False))


def confirm_change(
    token: object,
    *,
    base_url: str | None = None,
    on_complete: Callable[[EmailChange], None] | None = None,
) -> EmailChange:
    """Use a change link (or what ``read_change_link`` read of one).

    Returns the change: ``awaiting_new`` or ``completed``.

    ``on_complete(change)`` runs in the completing transaction, once the
    address changed (a front end renews its session there).
    """
    return confirm_step(
        lambda: _step(links.open_link(links.CHANGE, token, lock=True)),
        base_url=base_url,
        on_complete=on_complete,
    )


def confirm_step(
    locate: Callable[[], tuple[EmailChange, Step] | VerifiedEmailError],
    *,
    base_url: str | None = None,
    on_complete: Callable[[EmailChange], None] | None = None,
) -> EmailChange:
    """Confirm the step ``locate`` finds and locks, in one transaction.

    ``locate`` runs inside it and returns the change and its step, or an
    error to raise once the transaction commits (a wrong code must stay
    counted). Returns the change: ``awaiting_new`` or ``completed``.
    ``on_complete(change)`` runs in that transaction when it completes the
    change: what it writes commits, or rolls back, with the change.
    """
    change = outbox = refusal = None
    try:
        with atomic_outbox() as outbox:
            located = locate()
            if isinstance(located, VerifiedEmailError):
                refusal = located
            else:
                change, step = located
                _take_step(outbox, change, step, base_url, on_complete)
    except Exception as error:
        if (
            outbox is not None
            and outbox.committed
            and change is not None
            and change.status == Status.COMPLETED
        ):
            raise _completed_but_unsent(change) from error
        raise
    if refusal is not None:
        raise refusal
    assert change is not None
    return change


def _take_step(
    outbox: Outbox,
    change: EmailChange,
    step: Step,
    base_url: str | None,
    on_complete: Callable[[EmailChange], None] | None,
) -> None:
    now = timezone.now()
    if step == Step.OLD:
        _confirm_old(outbox, change, now, base_url)
        return
    _complete(outbox, change, now, base_url)
    # Not for a recovery that now waits: its address is unchanged.
    if on_complete is not None and change.status == Status.COMPLETED:
        on_complete(change)


def _confirm_old(outbox: Outbox, change: EmailChange, now: datetime, base_url: str | None) -> None:
    """The old address approved: on to the new address's step, with a link of its own."""
    change.status = Status.AWAITING_NEW  # type: ignore[assignment]
    change.old_confirmed_at = now
    change.link_generation += 1
    change.link_sent_at = now
    change.save(update_fields=["status", "old_confirmed_at", "link_generation", "link_sent_at"])
    _queue_new_address_step(outbox, change, base_url)
    outbox.signal(signals.email_change_old_confirmed, user=change.user, change=change)


def _completed_but_unsent(change: EmailChange) -> DeliveryFailed:
    """The failure of a completed change whose notices could not go out.

    The change is done (committed); only its notices failed (the mail
    server, or a template that would not render), and there is no step left
    to send again. Still a delivery failure, as for every send, but one that
    says the change happened and carries it, so front ends can finish.
    """
    return DeliveryFailed(
        _(
            "Your email address is now %(email)s, but we could not send the "
            "confirmation emails just now."
        )
        % {"email": change.new_email},
        change=change,
    )


def _complete(outbox: Outbox, change: EmailChange, now: datetime, base_url: str | None) -> None:
    if (
        change.old_email_lost
        and not change.second_factor
        and not recovery.approved_by_staff(change)
    ):
        # A recovery: the new address proved itself, now the owner's wait.
        recovery.schedule(outbox, change, now)
        return
    user = change.user  # locked by the link or code that located it
    old_email = addresses.of_user(user)
    _give_new_address(outbox, change, now)
    change.status = Status.COMPLETED  # type: ignore[assignment]
    change.closed_at = now
    change.save(update_fields=["status", "closed_at"])
    if app_settings.LOGOUT_OTHER_SESSIONS:
        # The other ways in end with the other sessions (revokers.sparing).
        takeover.revoke_access(change, completion=True)
    _queue_completion_notices(outbox, change, base_url)
    outbox.signal(
        signals.email_changed,
        user=user,
        change=change,
        old_email=old_email,
        new_email=change.new_email,
    )


def _give_new_address(outbox: Outbox, change: EmailChange, now: datetime) -> None:
    """Give the (locked) user the change's new address, verified, or raise."""
    # Checked again under the lock: another account may have taken the
    # address since the link was sent. An account that only typed the
    # address does not block this one.
    if not _common.claim_address(change.user, change.new_email, outbox) or not (
        _common.set_verified_address(
            change.user, change.new_email, now, end_sessions=app_settings.LOGOUT_OTHER_SESSIONS
        )
    ):
        raise EmailTakenMeanwhile(
            _(
                "Another account took this email address before you confirmed it. "
                "Your email address was not changed."
            )
        )


def _queue_completion_notices(outbox: Outbox, change: EmailChange, base_url: str | None) -> None:
    outbox.email(emails.CHANGE_COMPLETED, user=change.user, change=change, base_url=base_url)
    # An unverified old address hears of it too, with the way back: it may
    # be the owner's real mailbox (an account from before the app was
    # adopted), and a typo'd one simply never reads it.
    if change.old_email_lost or recovery.approved_by_staff(change):
        # A recovery that passed a second factor: no wait, but the old
        # address still hears of it (OWASP: notify the old, confirm the new),
        # without the way back a lost mailbox must not hold (recovery.py).
        # Staff's approval too: the old mailbox may be why the user asked them.
        recovery.notify_old_of_completion(outbox, change, base_url)
    elif app_settings.NOTIFY_OLD_EMAIL and change.old_email:
        outbox.email(emails.CHANGE_NOTICE_OLD, user=change.user, change=change, base_url=base_url)


def pending_change(user: VerifiedUser) -> EmailChange | None:
    """Return the user's pending change, or None."""
    return EmailChange.objects.pending_for(user).first()


def resend_change(user: VerifiedUser, *, base_url: str | None = None) -> EmailChange:
    """Send the link of the pending change's current step again (older ones stop working)."""
    pending = pending_change(user)
    if pending is None:
        raise NoPendingChange
    if pending.status == Status.SCHEDULED:
        raise _nothing_to_resend()
    with throttle.send_cooldown(user, throttle.CHANGE, pending.new_email) as cooldown:
        cooldown.claim()
        with atomic_outbox() as outbox:
            # The user's row first, then the change's: the resent email's code
            # is stored in this transaction (see ``links.CHANGE``).
            get_store().lock_user(user.pk)
            change = EmailChange.objects.pending_for(user).select_for_update().first()
            if change is None:
                raise NoPendingChange
            if change.status == Status.SCHEDULED:
                raise _nothing_to_resend()
            _check_daily_budget(user, timezone.now(), requests=False)
            change.link_generation += 1
            change.link_sent_at = timezone.now()
            change.save(update_fields=["link_generation", "link_sent_at"])
            if change.status == Status.AWAITING_OLD:
                outbox.email(emails.CHANGE_CONFIRM_OLD, user=user, change=change, base_url=base_url)
            else:
                _queue_new_address_step(outbox, change, base_url)
    return change


def _nothing_to_resend() -> NoPendingChange:
    return NoPendingChange(
        _("Your email change is confirmed and waiting: there is no link to send again.")
    )


def resend_change_for_expired_link(
    token: object, user: VerifiedUser, *, base_url: str | None = None
) -> EmailChange:
    """Send the pending change's current link again, in place of an expired one."""
    change_id = links.read(links.CHANGE, token).change_id
    if not EmailChange.objects.filter(pk=change_id, user_id=user.pk).exists():
        raise InvalidToken
    return resend_change(user, base_url=base_url)


def cancel_change(user: VerifiedUser) -> EmailChange:
    """Cancel the pending change; its links stop working."""
    with atomic_outbox() as outbox:
        change = EmailChange.objects.pending_for(user).select_for_update().first()
        if change is None:
            raise NoPendingChange
        change.status = Status.CANCELLED
        change.closed_at = timezone.now()
        change.save(update_fields=["status", "closed_at"])
        outbox.signal(signals.email_change_cancelled, user=user, change=change)
    # Starting again, to the same address, is a new request, not a repeat.
    throttle.release_send(user, throttle.CHANGE, change.new_email)
    return change
