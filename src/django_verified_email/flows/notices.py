"""Owed notices: the old address's notice, sent again when it could not go out.

A link can be asked for again by whoever waits for it; the notice to the old
address after a completed change cannot: it is unasked for, and it carries
the only way back ("this wasn't me"). When it is not handed over (a mail
server down in ``"sync"`` mode, a queue that refused the task), delivery
marks the change ``notice_owed_at``; this sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import router
from django.db.models import QuerySet
from django.utils import timezone

from .. import emails
from ..conf import app_settings
from ..delivery import Outbox, atomic_outbox
from ..exceptions import VerifiedEmailError
from ..models import EmailChange

logger = logging.getLogger("django_verified_email")

#: Older owed notices are dropped, not sent: ``verified_email_purge`` blanks
#: the addresses a revert reads once REVERT_MAX_AGE and this grace are over
#: (its LATE_SEND_GRACE), so a later link would not work.
OWED_FOR = timedelta(days=1)


def owed_notices():
    """Completed, not undone, changes whose old-address notice is owed and still useful."""
    now = timezone.now()
    return EmailChange.objects.filter(
        status=EmailChange.Status.COMPLETED,
        reverted_at__isnull=True,
        notice_owed_at__isnull=False,
        closed_at__gte=now - OWED_FOR,
    )


def resend_owed(
    owed: Callable[[], QuerySet[EmailChange]],
    resend: Callable[[Outbox, EmailChange], None],
    *,
    skip_locked: bool = False,
    database: str | None = None,
) -> int:
    """Send each owed notice of ``owed()`` again with ``resend``; return how many went.

    Each row is locked, cleared of ``notice_owed_at`` and handed to
    ``resend`` (which queues its message) in its own transaction: one that
    fails again is marked owed again by delivery, for the next run, and the
    others still go. ``skip_locked``: leave rows another run holds to it.
    ``database``: where to work (default: where the router writes changes).
    """
    database = database or router.db_for_write(EmailChange)
    sent = 0
    for change_id in owed().using(database).order_by("pk").values_list("pk", flat=True):
        try:
            with atomic_outbox(using=database) as outbox:
                change = (
                    owed()
                    .using(database)
                    .select_for_update(skip_locked=skip_locked)
                    .select_related("user")
                    .filter(pk=change_id)
                    .first()
                )
                if change is None:
                    continue  # taken by another run, or no longer owed
                change.notice_owed_at = None
                change.save(update_fields=["notice_owed_at"])
                resend(outbox, change)
        except VerifiedEmailError:
            continue
        sent += 1
    return sent


def send_owed_notices(*, base_url: str | None = None, database: str | None = None) -> int:
    """Send every owed old-address notice again; return how many were handed over.

    A notice whose link has no host is left owed (``with_link_host``).
    """

    def resend(outbox: Outbox, change: EmailChange) -> None:
        if app_settings.NOTIFY_OLD_EMAIL and change.old_email:
            outbox.email(
                emails.CHANGE_NOTICE_OLD, user=change.user, change=change, base_url=base_url
            )

    warn_if_hostless(owed_notices(), base_url, emails.CHANGE_NOTICE_OLD)
    return resend_owed(lambda: with_link_host(owed_notices(), base_url), resend, database=database)


def with_link_host(changes: QuerySet[EmailChange], base_url: str | None) -> QuerySet[EmailChange]:
    """Leave out of ``changes`` those whose emails could not say where their links lead.

    Outside a request a link takes its host from ``BASE_URL``, else from
    ``base_url``, else from the host its change was requested from
    (``EmailChange.link_base``), which a change started outside a request, or
    before that was kept, lacks. Its email is skipped, not sent half-built,
    and the row stays as it was: a later run, once ``BASE_URL`` is set, sends it.
    """
    if app_settings.BASE_URL or base_url:
        return changes
    return changes.exclude(link_base="")


def warn_if_hostless(changes: QuerySet[EmailChange], base_url: str | None, kind: str) -> None:
    """Log a warning naming the changes of ``changes`` that ``with_link_host`` leaves out."""
    if app_settings.BASE_URL or base_url:
        return
    named = 20
    hostless = list(
        changes.filter(link_base="").order_by("pk").values_list("pk", flat=True)[: named + 1]
    )
    if hostless:
        logger.warning(
            "Did not send the %s email of email change(s) %s: no host for its link "
            "(the change was started outside a request, or before its host was kept). "
            "Set VERIFIED_EMAIL['BASE_URL'] to send it.",
            kind,
            ", ".join(str(pk) for pk in hostless[:named]) + (", ..." if hostless[named:] else ""),
        )
