"""Delete email changes that are over and past keeping; scrub the few kept longer.

Closed changes (completed, cancelled, superseded) go once they are older than
``PURGE_AFTER`` seconds; pending ones once their link expired that long ago. A
closed change is kept at least ``REVERT_MAX_AGE + CHANGE_LOCK_AFTER_REVERT``,
while its "this wasn't me" link and the change lock after a revert can still
need it. When that is longer than ``PURGE_AFTER``, a row kept past
``PURGE_AFTER`` keeps its addresses only while a revert can still read them:
the others have both addresses blanked, and where the requests that started
and refused the change came from (IP address, browser, system) with them;
status and times stay, for the lock and the audit. Rows go in batches, each in
its own short transaction, so a million rows never hold one long lock.

Re-authentication counters go too once both their window and any lockout are
over: a user's next attempt would start a fresh count anyway. So do one-time
code rows no try can use (used, used up, or older than ``CODE_MAX_AGE``),
wrong code tries a day old, which the per-day limit no longer counts, and
address locks last taken a day ago (``AddressLock``: a lock is held only for
the transaction that took it, and the next step that needs it makes the row
again), so the hash of an address does not outlive the accounts that held it.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from django_verified_email import codes, flows, passwords
from django_verified_email.conf import app_settings
from django_verified_email.flows.notices import owed_notices
from django_verified_email.management.database import add_database_argument, database_alias
from django_verified_email.management.database import batch_size as checked_batch_size
from django_verified_email.models import AddressLock, EmailChange, ReauthAttempts

#: A "this wasn't me" link lives REVERT_MAX_AGE from when its email was sent,
#: and a task worker may send it well after the change completed (retries go
#: on for hours): its change keeps its addresses this much longer.
LATE_SEND_GRACE = timedelta(days=1)


#: What a scrubbed row holds in place of its addresses and request context.
SCRUBBED = {
    "old_email": "",
    "new_email": "",
    "requested_ip": None,
    "requested_browser": None,
    "requested_os": "",
    "refused_ip": None,
    "refused_browser": None,
    "refused_os": "",
    # A recovery's digest of the account, and a staff member's written reason
    # (which may name the person or how they proved who they are).
    "account_fingerprint": "",
    "completion_reason": "",
}


def purgeable(now):
    keep = timedelta(seconds=app_settings.PURGE_AFTER)
    lock = timedelta(seconds=app_settings.CHANGE_LOCK_AFTER_REVERT)
    keep_closed = max(keep, timedelta(seconds=app_settings.REVERT_MAX_AGE) + lock)
    expired = timedelta(seconds=app_settings.LINK_MAX_AGE) + keep
    closed = [
        status for status in EmailChange.Status.values if status not in EmailChange.PENDING_STATUSES
    ]
    # Both halves match an index on (status, time): verified_em_status_closed_idx
    # and verified_em_status_sent_idx.
    # The lock after a revert runs from the revert, which a notice sent late
    # (task retries) lets come well after the change closed: a reverted row
    # stays until its lock is over, however old the change.
    return EmailChange.objects.filter(
        Q(status__in=closed, closed_at__lt=now - keep_closed)
        & (Q(reverted_at__isnull=True) | Q(reverted_at__lt=now - lock))
        # A scheduled recovery has no link left to expire: it waits for its
        # completion (verified_email_complete_due), however long the delay.
        | Q(
            status__in=[
                status
                for status in EmailChange.PENDING_STATUSES
                if status != EmailChange.Status.SCHEDULED
            ],
            link_sent_at__lt=now - expired,
        )
    )


def scrubbable(now):
    """Closed changes past ``PURGE_AFTER`` whose addresses no revert can read any more.

    A revert reads the old address of its own change, and the new address of
    the user's latest completed change since (to see that the account still
    has it). Both belong to completed, not reverted changes whose link may
    still live; a later change always closed later, so it keeps its addresses
    at least as long as an earlier one's link can ask for them.
    """
    keep = timedelta(seconds=app_settings.PURGE_AFTER)
    revertable = timedelta(seconds=app_settings.REVERT_MAX_AGE) + LATE_SEND_GRACE
    closed = [
        status for status in EmailChange.Status.values if status not in EmailChange.PENDING_STATUSES
    ]
    return (
        EmailChange.objects.filter(status__in=closed, closed_at__lt=now - keep)
        .exclude(
            status=EmailChange.Status.COMPLETED,
            reverted_at__isnull=True,
            closed_at__gte=now - revertable,
        )
        .exclude(**SCRUBBED)
    )


#: An ``AddressLock`` row last locked longer ago than this is no transaction's.
ADDRESS_LOCK_KEPT = timedelta(days=1)


def stale_address_locks(now):
    # No index on locked_at: each lock would write it too. Purged daily, the
    # table holds about a day of addresses verified, which a scan reads fast.
    return AddressLock.objects.filter(
        Q(locked_at__isnull=True) | Q(locked_at__lt=now - ADDRESS_LOCK_KEPT)
    )


def stale_attempts(now):
    window = timedelta(seconds=app_settings.REAUTH_LOCKOUT)
    return ReauthAttempts.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now),
        window_started_at__lte=now - window,
    )


def delete_in_batches(queryset, *, database, batch_size):
    """Delete what ``queryset`` matches, one transaction per batch; (rows, batches)."""
    total = batches = 0
    while True:
        with transaction.atomic(using=database):
            ids = list(
                queryset.using(database).order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            # The filter again: a row may have changed since it was read.
            deleted, _ = queryset.using(database).filter(pk__in=ids).delete()
        total += deleted
        batches += 1
    return total, batches


class Command(BaseCommand):
    help = (
        "Delete closed and long-expired email changes older than VERIFIED_EMAIL['PURGE_AFTER'], "
        "and blank the addresses (and request context) of those kept longer for a revert once "
        "no revert needs them; delete expired re-authentication counters, dead one-time codes, "
        "wrong code tries and address locks a day old."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Rows deleted or scrubbed per transaction (default 1000).",
        )
        add_database_argument(parser, "purge")

    def handle(self, *args, batch_size, database, **options):
        database = database_alias(database)
        batch_size = checked_batch_size(batch_size)
        now = timezone.now()
        total, batches = delete_in_batches(purgeable(now), database=database, batch_size=batch_size)
        self.stdout.write(f"Deleted {total} email change(s) in {batches} batch(es).")
        scrubbed = self._scrub(now, database, batch_size)
        self.stdout.write(f"Blanked the addresses of {scrubbed} kept email change(s).")
        counters, _ = delete_in_batches(
            stale_attempts(now), database=database, batch_size=batch_size
        )
        if counters:
            self.stdout.write(f"Deleted {counters} expired re-authentication counter(s).")
        self._delete_codes(now, database, batch_size)
        hashes, _ = delete_in_batches(
            passwords.purgeable(now), database=database, batch_size=batch_size
        )
        if hashes:
            self.stdout.write(f"Deleted {hashes} earlier password hash(es) no revert needs.")
        # A step that locks the address meanwhile waits for the delete, then
        # finds the row gone, or updated (and kept): either way it holds a lock.
        locks, _ = delete_in_batches(
            stale_address_locks(now), database=database, batch_size=batch_size
        )
        if locks:
            self.stdout.write(f"Deleted {locks} address lock(s) a day old.")
        self._send_owed_notices(database)

    def _scrub(self, now, database, batch_size):
        """Blank the addresses of the kept changes past ``PURGE_AFTER``; return how many."""
        scrubbed = 0
        while True:
            with transaction.atomic(using=database):
                ids = list(
                    scrubbable(now)
                    .using(database)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    return scrubbed
                scrubbed += (
                    EmailChange.objects.using(database).filter(pk__in=ids).update(**SCRUBBED)
                )

    def _delete_codes(self, now, database, batch_size):
        dead, _ = delete_in_batches(codes.dead_codes(now), database=database, batch_size=batch_size)
        tries, _ = delete_in_batches(
            codes.old_wrong_tries(now), database=database, batch_size=batch_size
        )
        if dead or tries:
            self.stdout.write(
                f"Deleted {dead} dead one-time code(s) and {tries} old wrong code tries."
            )

    def _send_owed_notices(self, database):
        # Run often enough (hourly, say), this is how a notice the mail server
        # refused still reaches the old address (flows.notices). Its link
        # points at BASE_URL, else at the host the change was requested from.
        sent = flows.send_owed_notices(database=database)
        if sent:
            self.stdout.write(f"Sent {sent} owed notice(s) again.")
        if (
            not app_settings.BASE_URL
            and owed_notices().using(database).filter(link_base="").exists()
        ):
            self.stderr.write(
                "Some notices to old addresses are owed but have no host for their links "
                "(their changes were started outside a request, or before hosts were kept): "
                "set VERIFIED_EMAIL['BASE_URL'] to send them."
            )
