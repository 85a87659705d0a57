"""Handing messages and signals over once the database transaction commits.

A flow collects what it wants sent in an ``Outbox`` while it writes, and the
outbox is flushed only after the commit: a rolled-back change sends nothing,
and a message never points at a row that does not exist yet.
"""

import logging
import smtplib
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction

from . import emails
from .exceptions import DeliveryFailed

logger = logging.getLogger("django_verified_email")

# What a mail server or network failure raises; anything else is a bug and
# is left to propagate.
MAIL_ERRORS = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class Outgoing:
    """One message to send, by ids only: no token, no body, no address."""

    kind: str
    user_id: int
    change_id: int | None = None
    base_url: str | None = None


def send_now(outgoing):
    """Build and send one message. Returns True if a message went out."""
    message = emails.build(
        outgoing.kind,
        user_id=outgoing.user_id,
        change_id=outgoing.change_id,
        base_url=outgoing.base_url,
    )
    if message is None:
        return False
    message.send()
    return True


class Outbox:
    def __init__(self):
        self.messages = []
        self.events = []

    def email(self, kind, *, user, change=None, base_url=None, on_sent=None):
        """Queue a message; ``on_sent`` is a (signal, kwargs) pair sent once it went out."""
        outgoing = Outgoing(
            kind=kind,
            user_id=user.pk,
            change_id=change.pk if change is not None else None,
            base_url=base_url,
        )
        self.messages.append((outgoing, user, on_sent))

    def signal(self, signal, *, user, **kwargs):
        self.events.append((signal, user, kwargs))

    def flush(self, *, raise_errors=True):
        failed = False
        for outgoing, user, on_sent in self.messages:
            try:
                sent = send_now(outgoing)
            except MAIL_ERRORS:
                # The message carries a live link: log the kind, never the body.
                logger.exception("Could not send the %s email of user %s", outgoing.kind, user.pk)
                failed = True
                continue
            if sent and on_sent is not None:
                signal, kwargs = on_sent
                signal.send(sender=get_user_model(), user=user, **kwargs)
        for signal, user, kwargs in self.events:
            signal.send(sender=get_user_model(), user=user, **kwargs)
        if failed and raise_errors:
            raise DeliveryFailed


def _inside_callers_transaction():
    # The atomic blocks a TestCase wraps each test in are not the caller's:
    # Django marks them, and treats them the same way for durable=True.
    return any(
        not getattr(block, "_from_testcase", False)
        for block in transaction.get_connection().atomic_blocks
    )


@contextmanager
def atomic_outbox():
    """A transaction whose outbox is flushed after it commits.

    Run on its own, the flush happens as the block exits, so a mail failure
    reaches the caller as ``DeliveryFailed`` with the data already committed.
    Inside a caller's transaction (``ATOMIC_REQUESTS``), the flush waits for
    that outer commit and can no longer report to the request: failures are
    logged, and the user can ask for the link again.
    """
    deferred = _inside_callers_transaction()
    outbox = Outbox()
    with transaction.atomic():
        yield outbox
        if deferred:
            transaction.on_commit(partial(outbox.flush, raise_errors=False), robust=True)
    if not deferred:
        outbox.flush()
