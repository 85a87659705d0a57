"""Recovery: change the address when the old mailbox is lost.

The dual-link flow needs the old address to approve; a user who lost that
mailbox (a closed employer account, a dead provider) cannot give it. They
ask with ``old_email_lost`` (``change.request_change``): the link goes to
the NEW address only, and the OLD one gets a notice with a one-time "stop
this change" link. Confirming the new address makes the change
``scheduled``: it completes by itself ``RECOVERY_DELAY`` seconds later
(``complete_due``), unless the old address stops it (``confirm_stop``, a
deny with all of a deny's effects) or the user cancels it. A reminder goes
to the old address a day before, and the change never completes before it
went out: a reminder whose mail failed is owed and sent again
(``delivery.record_owed``), and one that goes out late moves the
completion to a day after it.

The wait is the price of not asking the old address: someone who knows the
password but not the mailbox can start a recovery, and the owner has the
whole wait, and two emails, to stop it (docs/security.md). A request that
passed the host's second factor (``RECOVERY_SECOND_FACTOR``) skips the wait.

Completing re-checks the account: the new address must still be free, and
the account must be as it was when the change was scheduled (address,
password, ``email_security_counter``: ``tokens.fingerprint``); otherwise the
change is cancelled and the new address told why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_permission_codename, get_user_model
from django.db import connections, router, transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import emails, signals, tokens
from ..conf import app_settings
from ..delivery import Outbox, atomic_outbox
from ..exceptions import (
    DeliveryFailed,
    EmailTakenMeanwhile,
    NoPendingChange,
    ReasonRequired,
    RecoveryDisabled,
    StaffRefused,
)
from ..models import CompleteDueRun, EmailChange, VerifiedUser
from ..request_context import RequestContext
from . import _common, deny, links, notices, revert, takeover

logger = logging.getLogger("django_verified_email")

Status = EmailChange.Status

#: How long before completion the old address is reminded.
REMINDER_BEFORE = timedelta(days=1)

#: Why a scheduled change was cancelled when it came due (``closed_reason``).
ADDRESS_TAKEN = "address_taken"
ACCOUNT_CHANGED = "account_changed"

#: How long due changes may wait with no ``complete_due`` run before the
#: admin and the ``verified_email.W012`` check say the scheduler is missing.
IDLE_AFTER = timedelta(hours=1)

#: The statuses staff may complete from the admin.
STAFF_COMPLETABLE = (Status.AWAITING_OLD, Status.AWAITING_NEW, Status.SCHEDULED)


def check_enabled() -> None:
    """Raise ``RecoveryDisabled`` when ``RECOVERY_DELAY`` is None (the path is off)."""
    if app_settings.RECOVERY_DELAY is None:
        raise RecoveryDisabled


def schedule(outbox: Outbox, change: EmailChange, now: datetime) -> None:
    """Start the wait of a recovery whose new address just proved itself.

    Called by the change flow with the user and the changes to the new
    address locked (``lock_for_taking``). The address is checked now as
    well: a week of waiting for an address another account took would end
    in a cancel anyway.
    """
    user = change.user
    if _common.taken_by_other(user, change.new_email):
        raise EmailTakenMeanwhile(
            _taken_message()  # the same words as a completion that finds it taken
        )
    delay = timedelta(seconds=app_settings.RECOVERY_DELAY or 0)
    change.status = Status.SCHEDULED  # type: ignore[assignment]
    change.completes_at = now + delay
    # The account as the wait starts; completing compares it (``_why_not``).
    change.account_fingerprint = tokens.fingerprint(user, with_verified_state=False)
    # A wait shorter than the reminder's lead has nothing to remind of: the
    # notice sent with the request already said when it would complete.
    change.reminder_sent_at = now if delay <= REMINDER_BEFORE else None
    change.save(update_fields=["status", "completes_at", "account_fingerprint", "reminder_sent_at"])
    outbox.signal(
        signals.email_change_scheduled, user=user, change=change, completes_at=change.completes_at
    )


def _taken_message() -> str:
    from django.utils.translation import gettext

    return gettext(
        "Another account took this email address before you confirmed it. "
        "Your email address was not changed."
    )


def notify_old_of_completion(outbox: Outbox, change: EmailChange, base_url: str | None) -> None:
    """Tell the old address that a change it never approved completed."""
    if app_settings.NOTIFY_OLD_EMAIL and change.old_email:
        outbox.email(
            emails.RECOVERY_COMPLETED_OLD, user=change.user, change=change, base_url=base_url
        )


# Stop: the old address says "this wasn't me"


def _open_stop(token: object, *, lock: bool) -> EmailChange:
    change = links.open_link(links.STOP, token, lock=lock).change
    assert change is not None
    return change


def check_stop(token: object) -> EmailChange:
    """Return the recovery a "stop this change" link would stop, without using it."""
    return _open_stop(token, lock=False)


def confirm_stop(
    token: object, *, base_url: str | None = None, context: RequestContext | None = None
) -> EmailChange:
    """Use a "stop this change" link: the recovery is ``denied``, with all of a deny's effects.

    Whoever asked knew the password, so every session ends and the password
    stops working (``takeover.retire_access``); both addresses are told, and
    ``change.user`` is the updated user, for ``takeover.set_password_token``.
    """

    def stop(outbox: Outbox) -> EmailChange:
        change = _open_stop(token, lock=True)
        deny.refuse(outbox, change, base_url=base_url, context=context)
        return change

    return _common.taking_back(stop)


# Completion


@dataclass
class DueRun:
    """What one ``complete_due`` run did."""

    completed: int = 0
    cancelled: int = 0
    reminded: int = 0
    #: Due changes left for a later run: another machine (or a request of the
    #: user) held them.
    skipped: int = 0
    #: "Stop this change" notices sent again after they failed.
    renoticed: int = 0
    #: Changes whose owed access revokers all succeeded this time.
    revoked: int = 0
    #: Scheduled reverts (a revert asked for without a password) completed.
    reverted: int = 0


def due_changes(now: datetime):
    """Scheduled changes whose wait is over (``verified_em_status_due_idx`` serves it)."""
    return EmailChange.objects.filter(status=Status.SCHEDULED, completes_at__lte=now)


def reminders_due(now: datetime):
    """Scheduled changes a day or less from completion whose old address was not reminded.

    Also the due ones: a change never completes before its reminder went
    out, and a reminder whose mail failed is due again (``delivery.record_owed``).
    """
    return EmailChange.objects.filter(
        status=Status.SCHEDULED,
        reminder_sent_at__isnull=True,
        completes_at__lte=now + REMINDER_BEFORE,
    )


def complete_due(
    *,
    batch_size: int = 100,
    base_url: str | None = None,
    database: str | None = None,
    progress: Callable[[DueRun], None] | None = None,
) -> DueRun:
    """Complete every recovery and every scheduled revert whose wait is over; send the reminders.

    Safe to run from cron every minute, and from several machines at once:
    each change is completed in its own transaction, under the lock of its
    user row taken with SKIP LOCKED, so two runs never wait on each other and
    never complete one change twice (the second finds it no longer
    scheduled). Rows are read in batches of ``batch_size``, by primary key,
    so memory stays flat however many are due, and a run stopped half-way
    leaves the rest for the next. ``database``: where to work (default: where
    the router writes changes). ``progress`` is called after each change.
    """
    database = database or router.db_for_write(EmailChange)
    run = DueRun()
    run.renoticed = resend_owed_stop_notices(base_url=base_url, database=database)
    run.revoked = takeover.revoke_owed()
    now = timezone.now()
    last = 0
    while True:
        ids = list(
            due_changes(now)
            .using(database)
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        last = ids[-1]
        for change_id in ids:
            outcome = complete_scheduled(
                change_id, base_url=base_url, skip_locked=True, database=database
            )
            if outcome == Status.COMPLETED:
                run.completed += 1
            elif outcome == Status.CANCELLED:
                run.cancelled += 1
            elif outcome is None:
                run.skipped += 1
            if progress is not None:
                progress(run)
    run.reverted = revert.complete_due_reverts(batch_size=batch_size, base_url=base_url)
    run.reminded = send_reminders(batch_size=batch_size, base_url=base_url, database=database)
    _record_run(timezone.now())
    return run


def _record_run(now: datetime) -> None:
    """Note that a run finished (``scheduler_idle`` reads it), in one statement.

    An upsert: the first run creates the row, and two first runs at once do
    not collide on it.
    """
    features = connections[router.db_for_write(CompleteDueRun)].features
    if not features.supports_update_conflicts:
        CompleteDueRun.objects.update_or_create(
            pk=CompleteDueRun.ONLY, defaults={"finished_at": now}
        )
        return
    CompleteDueRun.objects.bulk_create(
        [CompleteDueRun(pk=CompleteDueRun.ONLY, finished_at=now)],
        update_conflicts=True,
        update_fields=["finished_at"],
        # MySQL and MariaDB take no conflict target (ON DUPLICATE KEY UPDATE).
        unique_fields=["id"] if features.supports_update_conflicts_with_target else None,
    )


def scheduler_idle(*, using: str | None = None) -> bool:
    """Return whether due changes wait and ``complete_due`` has not finished a run for an hour.

    Then nothing completes the recoveries (nor reminds their old addresses):
    ``verified_email_complete_due`` is not scheduled, or fails every time.
    One query while runs are recent, two otherwise.
    """
    now = timezone.now()
    last = (
        CompleteDueRun.objects.using(using)
        .filter(pk=CompleteDueRun.ONLY)
        .values_list("finished_at", flat=True)
        .first()
    )
    if last is not None and last > now - IDLE_AFTER:
        return False
    return due_changes(now).using(using).exists()


def _skip_locked(database: str) -> dict[str, bool]:
    # SQLite has no row locks (Django ignores select_for_update there).
    if connections[database].features.has_select_for_update_skip_locked:
        return {"skip_locked": True}
    return {}


def complete_scheduled(
    change_id: int,
    *,
    base_url: str | None = None,
    skip_locked: bool = False,
    database: str | None = None,
) -> str | None:
    """Complete one scheduled change if its wait is over; return what became of it.

    ``"completed"``, ``"cancelled"`` (the re-checks failed), or None: not
    due, not scheduled any more (another run completed it), or, with
    ``skip_locked``, held by another transaction right now.
    """
    database = database or router.db_for_write(EmailChange)
    try:
        return _complete_scheduled(change_id, base_url, skip_locked, database)
    except DeliveryFailed:
        # Committed; only the notices failed (delivery logged them). Nobody
        # is waiting on this answer but a cron job: say what became of it.
        status = (
            EmailChange.objects.using(database)
            .filter(pk=change_id)
            .values_list("status", flat=True)
            .first()
        )
        if status in (Status.COMPLETED, Status.CANCELLED):
            return status
        raise


def _complete_scheduled(
    change_id: int, base_url: str | None, skip_locked: bool, database: str
) -> str | None:
    with atomic_outbox(using=database) as outbox:
        if skip_locked:
            owner = EmailChange.objects.filter(pk=change_id).values("user_id")[:1]
            held = list(
                get_user_model()
                ._default_manager.using(database)
                .select_for_update(**_skip_locked(database))
                .filter(pk=Subquery(owner))
                .values_list("pk", flat=True)
            )
            if not held:
                logger.debug("Recovery %s skipped: its account is locked by another run", change_id)
                return None
        # The user row first, then the pending changes to the new address, as
        # every flow that takes an address locks them (no deadlock, and no
        # other account completes a change to the same address meanwhile).
        change = EmailChange.objects.using(database).lock_for_taking(change_id, "new_email")
        now = timezone.now()
        if change is None or change.status != Status.SCHEDULED or change.completes_at > now:
            logger.debug("Recovery %s not completed: not scheduled, or not due", change_id)
            return None
        if change.notice_owed_at is not None:
            # The old address never got its "stop this change" link: it has
            # not had its wait yet (resend_owed_stop_notices restarts it).
            logger.debug("Recovery %s not completed: the old address was not told yet", change_id)
            return None
        if change.reminder_sent_at is None:
            # The reminder is the owner's last warning: not gone out yet (no
            # run sent it, or its mail failed and it is owed again), so the
            # change waits for it (send_reminders, after the completions).
            logger.debug("Recovery %s not completed: the reminder has not gone out", change_id)
            return None
        reason = _why_not(change)
        if reason is None and not _take_new_address(outbox, change, now):
            logger.debug("Recovery %s cancelled: the new address was taken meanwhile", change.pk)
            reason = ADDRESS_TAKEN
        if reason is not None:
            _cancel(outbox, change, now, reason, base_url)
            return "cancelled"
        _finish(outbox, change, now, base_url)
        return "completed"


def _why_not(change: EmailChange) -> str | None:
    """Return why a due change must not complete, or None when it may."""
    user = change.user
    if not user.is_active:
        logger.debug("Recovery %s cancelled: the account is inactive", change.pk)
        return ACCOUNT_CHANGED
    if tokens.fingerprint(user, with_verified_state=False) != change.account_fingerprint:
        # The address, the password or the security counter moved since the
        # wait started: the owner acted, or someone else did. Either way the
        # request no longer describes the account.
        logger.debug("Recovery %s cancelled: the account changed during the wait", change.pk)
        return ACCOUNT_CHANGED
    # Whether the address is still free is ``_take_new_address``'s to say.
    return None


def _take_new_address(outbox: Outbox, change: EmailChange, now: datetime) -> bool:
    """Give the (locked) user the change's new address, as a completion does; False if refused.

    False when another account holds the address so that the user cannot
    take it; accounts that only typed it are released, as on any completion
    (``_common.claim_address``). In a savepoint: a refusal by the database
    (a rule ``claim_address`` cannot read, a holder that cannot be blanked)
    must leave the transaction usable, and nothing half-done, to record a
    cancel.
    """
    messages, events = len(outbox.messages), len(outbox.events)
    try:
        with transaction.atomic(using=change.user._state.db):
            if not _common.claim_address(
                change.user, change.new_email, outbox
            ) or not _common.set_verified_address(
                change.user,
                change.new_email,
                now,
                end_sessions=app_settings.LOGOUT_OTHER_SESSIONS,
            ):
                raise EmailTakenMeanwhile
    except EmailTakenMeanwhile:
        # Nothing of the attempt is sent either: the releases were undone.
        del outbox.messages[messages:], outbox.events[events:]
        return False
    return True


def _cancel(
    outbox: Outbox, change: EmailChange, now: datetime, reason: str, base_url: str | None
) -> None:
    change.status = Status.CANCELLED  # type: ignore[assignment]
    change.closed_at = now
    change.closed_reason = reason
    change.save(update_fields=["status", "closed_at", "closed_reason"])
    outbox.email(emails.RECOVERY_CANCELLED, user=change.user, change=change, base_url=base_url)
    outbox.signal(signals.email_change_cancelled, user=change.user, change=change)


def _finish(outbox: Outbox, change: EmailChange, now: datetime, base_url: str | None) -> None:
    """Record a completion whose address is already set, and queue what it tells."""
    user = change.user
    change.status = Status.COMPLETED  # type: ignore[assignment]
    change.closed_at = now
    change.save(update_fields=["status", "closed_at", "completed_by", "completion_reason"])
    if app_settings.LOGOUT_OTHER_SESSIONS:
        takeover.revoke_access(change, completion=True)
    outbox.email(emails.CHANGE_COMPLETED, user=user, change=change, base_url=base_url)
    notify_old_of_completion(outbox, change, base_url)
    outbox.signal(
        signals.email_changed,
        user=user,
        change=change,
        old_email=change.old_email,
        new_email=change.new_email,
    )


def complete_if_due(
    change: EmailChange | None, *, base_url: str | None = None
) -> EmailChange | None:
    """Complete a user's pending change if it is scheduled and due; return it if it closed.

    For the status page, with the change it already read (no query when
    there is nothing to do): a user who comes back after ``completes_at``
    sees the change done even if no cron job or worker ran yet.
    """
    if (
        change is None
        or change.status != Status.SCHEDULED
        or change.completes_at is None
        or change.completes_at > timezone.now()
    ):
        return None
    if complete_scheduled(change.pk, base_url=base_url, skip_locked=True) is None:
        return None
    return EmailChange.objects.select_related("user").get(pk=change.pk)


def resend_owed_stop_notices(*, base_url: str | None = None, database: str | None = None) -> int:
    """Send again the "stop this change" notices that could not go out; return how many.

    The owner's whole protection is that notice and the wait after it: a
    scheduled change whose notice failed waits a full ``RECOVERY_DELAY``
    again from the resend.
    """

    def owed_anywhere() -> QuerySet[EmailChange]:
        return EmailChange.objects.filter(
            status__in=(Status.AWAITING_NEW, Status.SCHEDULED),
            old_email_lost=True,
            notice_owed_at__isnull=False,
        )

    def owed() -> QuerySet[EmailChange]:
        # One with no host for its link stays owed, and so does not complete.
        return notices.with_link_host(owed_anywhere(), base_url)

    def resend(outbox: Outbox, change: EmailChange) -> None:
        if change.status == Status.SCHEDULED:
            now = timezone.now()
            delay = timedelta(seconds=app_settings.RECOVERY_DELAY or 0)
            change.completes_at = max(change.completes_at or now, now + delay)
            change.reminder_sent_at = now if delay <= REMINDER_BEFORE else None
            change.save(update_fields=["completes_at", "reminder_sent_at"])
        outbox.email(emails.RECOVERY_NOTICE_OLD, user=change.user, change=change, base_url=base_url)

    notices.warn_if_hostless(owed_anywhere(), base_url, emails.RECOVERY_NOTICE_OLD)
    database = database or router.db_for_write(EmailChange)
    return notices.resend_owed(
        owed, resend, skip_locked=bool(_skip_locked(database)), database=database
    )


def send_reminders(
    *, batch_size: int = 100, base_url: str | None = None, database: str | None = None
) -> int:
    """Remind the old address of every recovery a day or less from completing; return how many.

    Each batch of rows is locked with SKIP LOCKED and marked in the same
    transaction as its messages are queued, so two runs never remind twice.
    """
    database = database or router.db_for_write(EmailChange)
    sent = 0
    notices.warn_if_hostless(reminders_due(timezone.now()), base_url, emails.RECOVERY_REMINDER)
    while True:
        try:
            with atomic_outbox(using=database) as outbox:
                batch = list(
                    notices.with_link_host(reminders_due(timezone.now()), base_url)
                    .using(database)
                    .select_for_update(skip_locked=bool(_skip_locked(database)))
                    .select_related("user")
                    .order_by("pk")[:batch_size]
                )
                if not batch:
                    break
                now = timezone.now()
                EmailChange.objects.using(database).filter(
                    pk__in=[change.pk for change in batch]
                ).update(reminder_sent_at=now)
                for change in batch:
                    change.reminder_sent_at = now
                    _leave_time_after_a_late_reminder(change, now)
                    outbox.email(
                        emails.RECOVERY_REMINDER, user=change.user, change=change, base_url=base_url
                    )
        except DeliveryFailed:
            # The failed ones are due again (delivery.record_owed), for the
            # next run: the mail server is down for this one.
            break
        sent += len(batch)
    return sent


def _leave_time_after_a_late_reminder(change: EmailChange, now: datetime) -> None:
    """Move a recovery whose reminder goes out late to a day after it.

    A reminder sent with less than half its lead left (no run sent it in
    time, or its first mail failed) would warn of a change that completes
    before the owner can act: the owner gets ``REMINDER_BEFORE`` from now.
    """
    assert change.completes_at is not None
    if change.completes_at < now + REMINDER_BEFORE / 2:
        change.completes_at = now + REMINDER_BEFORE
        change.save(update_fields=["completes_at"])


# Staff


def complete_by_staff(
    change_id: int, staff: VerifiedUser, reason: object, *, base_url: str | None = None
) -> EmailChange:
    """Complete a pending change for support, with ``staff``'s written ``reason``.

    For a user who can prove who they are to support but cannot finish a
    flow. Staff's word stands for the old address's approval and for a
    recovery's wait, never for the new address: only its link proves that
    the account's owner reads it. So a ``scheduled`` change (its new address
    already proved) completes at once, and an awaiting one is approved
    instead: the new address is sent a fresh link, and the change completes,
    with no other step and no wait, when that link is used. Who, when
    (``closed_at``) and why stay on the row. The new address is checked free
    as on any completion; both addresses are told.

    Raises ``ReasonRequired``, ``NoPendingChange`` (the change is no longer
    pending), ``StaffRefused`` (``staff_refusal`` says why) or
    ``EmailTakenMeanwhile``.
    """
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ReasonRequired
    with atomic_outbox(using=router.db_for_write(EmailChange)) as outbox:
        change = EmailChange.objects.lock_for_taking(change_id, "new_email")
        if change is None or change.status not in STAFF_COMPLETABLE:
            raise NoPendingChange
        refusal = staff_refusal(staff, change)
        if refusal is not None:
            raise refusal
        now = timezone.now()
        change.completed_by = staff
        change.completion_reason = reason
        if change.status != Status.SCHEDULED:
            _approve(outbox, change, now, base_url)
            return change
        if not _take_new_address(outbox, change, now):
            raise EmailTakenMeanwhile(_taken_message())
        _finish(outbox, change, now, base_url)
    return change


def _approve(outbox: Outbox, change: EmailChange, now: datetime, base_url: str | None) -> None:
    """Skip an awaiting change's old step and wait, and send the new address a fresh link."""
    if _common.taken_by_other(change.user, change.new_email):
        # Staff hear it now, not the new address later.
        raise EmailTakenMeanwhile(_taken_message())
    change.status = Status.AWAITING_NEW  # type: ignore[assignment]
    change.link_generation += 1
    change.link_sent_at = now
    change.save(
        update_fields=[
            "status",
            "link_generation",
            "link_sent_at",
            "completed_by",
            "completion_reason",
        ]
    )
    outbox.email(emails.CHANGE_CONFIRM_NEW, user=change.user, change=change, base_url=base_url)


def approved_by_staff(change: EmailChange) -> bool:
    """Return whether staff approved ``change`` (``complete_by_staff``): no old step, no wait."""
    return bool(change.completion_reason)


def staff_refusal(staff: VerifiedUser, change: EmailChange) -> StaffRefused | None:
    """Return why ``staff`` may not complete ``change``, or None when they may.

    A ladder, first refusal wins:

    * the account is inactive: a disabled account is not handed a new address;
    * ``staff`` lacks the permission to change email changes, or to change
      users: moving an account's address is changing the account;
    * the account is more privileged than ``staff``: a superuser's address
      needs a superuser, a staff account's needs staff (superusers included);
    * the account changed since the request (its password, address or
      ``email_security_counter``; ``account_fingerprint``): its owner may have
      reacted to the request, for example by changing the password.
    """
    user = change.user
    if not user.is_active:
        return StaffRefused(
            _("The account is inactive: its email address cannot be changed from here.")
        )
    if not all(staff.has_perm(permission) for permission in _staff_permissions(user)):
        return StaffRefused(
            _("Completing a change needs the permissions to change email changes and users.")
        )
    if getattr(user, "is_superuser", False) and not getattr(staff, "is_superuser", False):
        return StaffRefused(_("Only a superuser can change the address of a superuser."))
    if getattr(user, "is_staff", False) and not (
        getattr(staff, "is_staff", False) or getattr(staff, "is_superuser", False)
    ):
        return StaffRefused(_("Only staff can change the address of a staff account."))
    if change.account_fingerprint != tokens.fingerprint(user, with_verified_state=False):
        return StaffRefused(
            _(
                "The account changed since this change was requested (its password, its "
                "address or its security state): its owner may have reacted to it. Ask the "
                "user to request the change again."
            )
        )
    return None


def _staff_permissions(user: VerifiedUser) -> list[str]:
    permissions = []
    for model in (EmailChange, type(user)):
        opts = model._meta
        permissions.append(f"{opts.app_label}.{get_permission_codename('change', opts)}")
    return permissions


def is_staff_completable(change: EmailChange) -> bool:
    return change.status in STAFF_COMPLETABLE
