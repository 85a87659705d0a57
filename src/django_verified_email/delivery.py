"""Handing messages and signals over once the database transaction commits.

A flow collects what it wants sent in an ``Outbox`` while it writes, and the
outbox is flushed only after the commit: a rolled-back change sends nothing,
and a message never points at a row that does not exist yet.

The flush hands each message over as ``DELIVERY`` says: ``"sync"`` builds and
sends it at once; ``"tasks"`` and ``"celery"`` enqueue a task that carries ids
only (kind, user id, change id, base URL) and leave building, signing and
sending to the worker, which runs ``deliver()``.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.dispatch import Signal
from django.views.decorators.debug import sensitive_variables

from . import emails, signals, tokens
from .conf import app_settings
from .exceptions import DeliveryFailed

logger = logging.getLogger("django_verified_email")

# What a mail server or network failure raises; anything else is a bug and
# is left to propagate.
MAIL_ERRORS = (smtplib.SMTPException, OSError)

# Sent once the message of that kind has actually gone out: from the request
# in "sync" mode, from the worker otherwise. Derived from the kind, because a
# task carries nothing else.
SENT_SIGNALS = {emails.VERIFY: signals.verification_sent}

# Messages nobody can ask for again: a link's owner can have it resent, but
# the old address's notice carries the only way back, and no one knows to ask
# for it. When one is not handed over, the change row says it is owed, and
# ``flows.send_owed_notices`` sends it later.
OWED_KINDS = frozenset({emails.CHANGE_NOTICE_OLD, emails.RECOVERY_NOTICE_OLD})
# A recovery's reminder is owed on its own field: it is unsent again
# (``reminder_sent_at`` cleared), so the next run of ``complete_due`` sends
# it, and the recovery does not complete before it went out.
REMINDER_KINDS = frozenset({emails.RECOVERY_REMINDER})


@dataclass(frozen=True)
class Outgoing:
    """One message to send, by ids only: no token, no body, no address."""

    kind: str
    #: ``tokens.portable_id`` of the user's key: task arguments must be JSON.
    user_id: tokens.PortableId
    change_id: int | None = None
    base_url: str | None = None


# The link is signed below this frame: in ``build``'s context, the rendered
# body, and whatever the mail backend makes of it. An error report (Django's
# AdminEmailHandler, the 500 page under DEBUG) hides a frame's variables only
# if a ``sensitive_variables`` frame is among its callers, and a view's
# decorator is not: the outbox is flushed from a generator (``atomic_outbox``),
# and a finished generator's frame links to no caller. So the mark is here,
# where every message is built and sent, whoever calls.
@sensitive_variables()
def send_now(outgoing: Outgoing, *, change: Any = None, code: Any = emails.NOT_ISSUED) -> bool:
    """Build and send one message. Returns True if a message went out.

    ``change`` is the row the flow just committed, used as it is instead of
    being read again; ``code`` the message's code made in that transaction
    (``emails.issue_code``).
    """
    message = emails.build(
        outgoing.kind,
        user_id=outgoing.user_id,
        change_id=outgoing.change_id,
        base_url=outgoing.base_url,
        change=change,
        code=code,
    )
    if message is None:
        return False
    message.send()
    signal = SENT_SIGNALS.get(outgoing.kind)
    if signal is not None:
        # The user the message was built for: no second read in a worker.
        send_signal(signal, user=message.user, email=message.to[0])
    return True


def send_signal(signal: Signal, *, user: Any, **kwargs: Any) -> None:
    """Send one of the app's signals; a receiver that fails is logged, not raised.

    Receivers run after the commit and cannot undo it: one that fails must not
    keep the others (or the messages after it) from running, nor turn a
    request whose work is done into an error that skips what follows it.
    """
    for receiver, result in signal.send_robust(sender=get_user_model(), user=user, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "A receiver of a django_verified_email signal failed: %r",
                receiver,
                exc_info=result,
            )


def deliver(
    kind: str, user_id: tokens.PortableId, change_id: int | None = None, base_url: str | None = None
) -> bool:
    """The worker's side of a task: send one message from its ids, now.

    Sends nothing when the message is no longer due (the change was cancelled
    or superseded while the task waited). Mail errors propagate, so the task
    can be retried.
    """
    return send_now(Outgoing(kind=kind, user_id=user_id, change_id=change_id, base_url=base_url))


#: How each task mode queues a message, by ``DELIVERY`` mode: filled by the
#: task modules (``tasks``, ``celery_tasks``), which the app imports when it
#: is ready if their framework is installed. They sit above this module and
#: import it; it never imports them.
_BACKENDS: dict[str, Callable[..., None]] = {}


def register_backend(mode: str, enqueue: Callable[..., None]) -> None:
    """Make ``enqueue(**task_arguments)`` the way the ``mode`` delivery queues a message."""
    _BACKENDS[mode] = enqueue


def enqueue(outgoing: Outgoing) -> None:
    """Hand one message to the task queue of the ``DELIVERY`` mode."""
    mode = app_settings.DELIVERY
    backend = _BACKENDS.get(mode)
    if backend is None:
        raise ImproperlyConfigured(
            f"VERIFIED_EMAIL['DELIVERY'] is {mode!r}, but its task framework is not "
            "installed, or django_verified_email is not in INSTALLED_APPS (system check "
            "verified_email.E006)."
        )
    backend(**asdict(outgoing))


class Outbox:
    """What a flow wants sent once its transaction commits: messages, then signals."""

    def __init__(self) -> None:
        self.messages: list[tuple[Outgoing, Any, Any]] = []
        self.events: list[tuple[Signal, Any, dict[str, Any]]] = []
        #: Set once the flow's own transaction committed, before the flush.
        self.committed = False
        #: The codes ``prepare`` made, by message index.
        self.codes: dict[int, Any] = {}

    @sensitive_variables("code")
    def prepare(self) -> None:
        """Make the codes of change messages before the flow's commit, in ``"sync"`` mode.

        They are stored in the flow's transaction rather than in one each
        after it: the flush right after the commit builds the messages from
        these very rows. The task modes make codes in the worker, at send
        time, so that none waits in a queue.
        """
        if app_settings.DELIVERY != "sync":
            return
        for index, (outgoing, _user, change) in enumerate(self.messages):
            if change is not None:
                self.codes[index] = emails.issue_code(outgoing.kind, change)

    def email(
        self, kind: str, *, user: Any, change: Any = None, base_url: str | None = None
    ) -> None:
        """Queue a message; it is handed over once the transaction commits."""
        outgoing = Outgoing(
            kind=kind,
            user_id=tokens.portable_id(user.pk),
            change_id=change.pk if change is not None else None,
            base_url=base_url,
        )
        self.messages.append((outgoing, user, change))

    def signal(self, signal: Signal, *, user: Any, **kwargs: Any) -> None:
        self.events.append((signal, user, kwargs))

    def _hand_over(
        self, outgoing: Outgoing, user: Any, change: Any, code: Any = emails.NOT_ISSUED
    ) -> bool:
        if app_settings.DELIVERY == "sync":
            try:
                send_now(outgoing, change=change, code=code)
            except MAIL_ERRORS:
                # The message carries a live link: log the kind, never the body.
                logger.exception("Could not send the %s email of user %s", outgoing.kind, user.pk)
                return False
            return True
        try:
            enqueue(outgoing)
        except Exception:
            # The queue is the host's (a broker, a database, a third-party
            # backend), and so are its errors. Whatever it raised, the message
            # is not queued: report it like a mail failure, so the user can
            # ask again, instead of losing the message silently.
            logger.exception("Could not enqueue the %s email of user %s", outgoing.kind, user.pk)
            return False
        return True

    def flush(self, *, late: bool = False) -> None:
        """Hand everything over, right after the flow's own commit or ``late``.

        Right after, the change rows the flow wrote are what the database
        holds, so the messages are built from them without reading them again,
        and failures reach the caller (``DeliveryFailed``, or the build error).
        Late, after a caller's commit, the request may have moved on: rows are
        read again, and failures are only logged, since nobody is left to
        report them to (the user can ask for the link again).
        """
        failed = False
        error = None
        for index, (outgoing, user, change) in enumerate(self.messages):
            try:
                handed = (
                    self._hand_over(outgoing, user, None)
                    if late
                    else self._hand_over(
                        outgoing, user, change, self.codes.get(index, emails.NOT_ISSUED)
                    )
                )
                if not handed:
                    failed = True
                    _record_owed(outgoing)
            except Exception as exc:
                # A bug or a broken template. The data is committed: the other
                # messages (the old address's way back among them) and the
                # signals still go out first, then the error is raised.
                logger.exception("Could not build the %s email of user %s", outgoing.kind, user.pk)
                _record_owed(outgoing)
                error = error or exc
        for signal, user, kwargs in self.events:
            send_signal(signal, user=user, **kwargs)
        if late:
            return
        if error is not None:
            raise error
        if failed:
            raise DeliveryFailed


def _record_owed(outgoing: Outgoing) -> None:
    record_owed(outgoing.kind, outgoing.change_id)


def record_owed(kind: str, change_id: int | None) -> None:
    """Record that the ``kind`` message of change ``change_id`` did not go out, if it is owed.

    For the flush (not handed over) and for the task modes' workers, once
    they gave up retrying: a notice nobody can ask for again is sent by the
    next run of ``flows.send_owed_notices`` / ``complete_due`` instead of
    being lost. Any other kind is left alone: its owner can ask again.
    """
    if change_id is None or kind not in OWED_KINDS | REMINDER_KINDS:
        return
    from django.utils import timezone

    from .models import EmailChange

    try:
        if kind in REMINDER_KINDS:
            EmailChange.objects.filter(pk=change_id, status=EmailChange.Status.SCHEDULED).update(
                reminder_sent_at=None
            )
        else:
            EmailChange.objects.filter(pk=change_id).update(notice_owed_at=timezone.now())
    except Exception:
        # Reporting the first failure matters more than this second one.
        logger.exception("Could not record the owed %s email", kind)


def _inside_callers_transaction(using: str | None = None) -> bool:
    """Return whether the caller holds a transaction open (``ATOMIC_REQUESTS``, say).

    Django refuses to open a durable block inside another one, and lets it
    open inside the blocks a ``TestCase`` wraps each test in, which are not
    the caller's: asked without a savepoint, the question sends no statement.
    """
    if not transaction.get_connection(using).in_atomic_block:
        return False
    try:
        with transaction.atomic(using=using, savepoint=False, durable=True):
            return False
    except RuntimeError:
        return True


def _flush_on_callers_commit(outbox: Outbox, using: str | None = None) -> None:
    transaction.on_commit(partial(outbox.flush, late=True), using=using, robust=True)


def signal_after_commit(signal: Signal, *, user: Any, **kwargs: Any) -> None:
    """Send one of the app's signals after the caller's commit, or now outside one.

    For a step that writes no row of its own (a wrong password): under
    ``ATOMIC_REQUESTS`` the request's transaction is still open, and the
    receivers wait for it, as they do for every other signal of the app.
    """
    outbox = Outbox()
    outbox.signal(signal, user=user, **kwargs)
    if _inside_callers_transaction():
        _flush_on_callers_commit(outbox)
    else:
        outbox.flush()


def flow_database() -> str:
    """The database a flow's transaction runs on: where the router writes users.

    Every flow locks and writes its user's row first, and this app's rows
    with it in the same transaction (``verified_email.E011`` checks they go
    to one database).
    """
    return router.db_for_write(get_user_model())


@contextmanager
def atomic_outbox(using: str | None = None) -> Iterator[Outbox]:
    """A transaction whose outbox is flushed after it commits.

    On ``using``, or else the database of ``flow_database``.

    Run on its own, the flush happens as the block exits, so a mail failure
    (or, in a task mode, a queue that refused the task) reaches the caller as
    ``DeliveryFailed`` with the data already committed. Inside a caller's
    transaction (``ATOMIC_REQUESTS``), the flush waits for that outer commit
    and can no longer report to the request: failures are logged, and the
    user can ask for the link again.
    """
    using = using or flow_database()
    deferred = _inside_callers_transaction(using)
    outbox = Outbox()
    with transaction.atomic(using=using):
        yield outbox
        if deferred:
            _flush_on_callers_commit(outbox, using)
        else:
            outbox.prepare()
    if not deferred:
        outbox.committed = True
        outbox.flush()
