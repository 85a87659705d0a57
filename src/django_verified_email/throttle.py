"""Resend cooldowns, kept in Django's cache, and re-authentication lockouts,
kept in a table of the app's own (``ReauthAttempts``).

Cooldowns use ``cache.add``, which is atomic on the shared backends, and only
hold a deadline. Password attempts need a counter that is raised atomically
and expires at its own time; Django's database and file caches give neither
(``incr`` is get-then-set, with the cache's default timeout), so attempts
live in rows locked with ``SELECT ... FOR UPDATE`` on every database.
"""

import hashlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone

from .addresses import comparable
from .conf import app_settings
from .exceptions import LockedOut, Throttled

PREFIX = "verified_email"

#: Purposes of a send, each with cooldowns of its own.
VERIFY = "verify"
CHANGE = "change"
ANY_PURPOSE = "send"


def _cache():
    return caches[app_settings.CACHE]


def _key(kind, user):
    return f"{PREFIX}:{kind}:{user.pk}"


def _seconds_left(until):
    return max(1, math.ceil(until - time.time()))


def _cooldown_key(user, purpose, address):
    # The address is hashed: a cache (and its dumps) holds no addresses.
    digest = hashlib.sha256(comparable(address or "").encode()).hexdigest()[:32]
    return f"{PREFIX}:cooldown:{user.pk}:{purpose}:{digest}"


def claim_send(user, purpose=ANY_PURPOSE, address=None):
    """Take the one send per ``RESEND_COOLDOWN`` of ``purpose`` to ``address``, or raise.

    Raises ``Throttled``. The cooldown stops a double click and a resend
    loop; it is kept per purpose and per address so that what a person does
    next (verify, then ask for a change; fix a typo in the new address)
    is not refused as if it were a repeat.
    """
    cooldown = app_settings.RESEND_COOLDOWN
    if cooldown <= 0:
        return
    now = time.time()
    cache = _cache()
    key = _cooldown_key(user, purpose, address)
    if cache.add(key, now + cooldown, timeout=cooldown):
        return
    held = cache.get(key)
    if held is not None and held > now:
        raise Throttled(retry_after=_seconds_left(held))
    # Over by our clock, though the cache server (whose clock runs the
    # expiry) has not dropped it yet: start a new cooldown.
    cache.set(key, now + cooldown, timeout=cooldown)


def release_send(user, purpose=ANY_PURPOSE, address=None):
    """Give the send back, e.g. when the mail server refused it."""
    _cache().delete(_cooldown_key(user, purpose, address))


class SendCooldown:
    """One resend cooldown, for one ``with send_cooldown(...)`` block."""

    def __init__(self, user, purpose, address):
        self.user = user
        self.purpose = purpose
        self.address = address
        self.claimed = False

    def claim(self) -> None:
        """Take the cooldown's one send per ``RESEND_COOLDOWN``, or raise ``Throttled``."""
        claim_send(self.user, self.purpose, self.address)
        self.claimed = True


@contextmanager
def send_cooldown(user, purpose=ANY_PURPOSE, address=None) -> Iterator[SendCooldown]:
    """Run a send under the resend cooldown of ``purpose`` to ``address``.

    ``purpose`` names what the link is for (``VERIFY``, ``CHANGE``) and
    ``address`` the address it proves, so each pair has a cooldown of its
    own. The block calls ``cooldown.claim()`` once its own checks passed (at
    once when it has none), so bad input is reported before "wait a bit". If
    the block fails after claiming, nothing reached the user (refused, or the
    mail server failed): the claim is handed back so they can try again at
    once. Only a claim this block took is handed back, never one an earlier
    send holds.
    """
    cooldown = SendCooldown(user, purpose, address)
    try:
        yield cooldown
    except Exception:
        if cooldown.claimed:
            release_send(user, purpose, address)
        raise


def _database(user):
    """The database of the user's row, where its attempts are locked and counted.

    Where ``_lock_user_row`` locks it: callers may pass any object with a
    ``pk``, not only a model instance.
    """
    return router.db_for_write(get_user_model())


def _lockouts():
    # Imported late: this module is loaded before the app registry is ready.
    from .models import ReauthAttempts

    return ReauthAttempts.objects


def _retry_after(locked_until, now):
    return max(1, math.ceil((locked_until - now).total_seconds()))


def check_lockout(user):
    now = timezone.now()
    until = (
        _lockouts()
        .filter(user_id=user.pk, locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    if until is not None:
        raise LockedOut(retry_after=_retry_after(until, now))


def _insert_first_attempt(user, now):
    """Count attempt 1 by creating the user's row; False if a row exists.

    Only in autocommit, where the insert and the user's lock are a
    transaction of their own: a failed insert holds no lock afterwards.
    Inside a caller's transaction, MySQL/MariaDB keep the shared lock a
    duplicate key takes, and parallel attempts that then ask for the row
    lock deadlock each other.

    The user's row is locked before the insert, as every other writer of
    attempts locks it: the insert's foreign key check waits for that row
    (PostgreSQL ``FOR KEY SHARE``, InnoDB a shared lock), so an insert that
    came first and then waited for a request holding the user's row, while
    that request inserted the same attempt row, deadlocked (a 500 on a
    double click).
    """
    try:
        with transaction.atomic(using=_database(user)):
            _lock_user_row(user)
            _lockouts().create(user_id=user.pk, count=1, window_started_at=timezone.now())
    except IntegrityError:
        return False
    return True


def _lock_user_row(user):
    """Serialise one user's attempts on the user's row, which always exists.

    A row lock on a counter that is not there yet locks nothing (PostgreSQL)
    or only a gap that parallel inserts share (MySQL/MariaDB).
    """
    get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values_list(
        "pk", flat=True
    ).first()


def take_attempt(user):
    """Reserve one password attempt before checking the password.

    Reserving first means parallel guesses cannot get more than
    ``REAUTH_MAX_ATTEMPTS`` passwords checked: the count is read and raised
    under a row lock. Returns the attempt number. The count belongs to a
    window of ``REAUTH_LOCKOUT`` seconds from its first attempt, and a
    lockout starts a fresh count when it ends.
    """
    now = timezone.now()
    in_transaction = transaction.get_connection(_database(user)).in_atomic_block
    if not in_transaction and _insert_first_attempt(user, now):
        return 1
    window = timedelta(seconds=app_settings.REAUTH_LOCKOUT)
    with transaction.atomic(using=_database(user)):
        _lock_user_row(user)
        now = timezone.now()  # after any wait for the lock
        row = _lockouts().select_for_update().filter(user_id=user.pk).first()
        if row is None:
            row = _lockouts().model(user_id=user.pk, count=0, window_started_at=now)
        elif row.locked_until is not None and row.locked_until > now:
            raise LockedOut(retry_after=_retry_after(row.locked_until, now))
        elif row.locked_until is not None or row.window_started_at + window <= now:
            row.count, row.window_started_at, row.locked_until = 0, now, None
        row.count += 1
        # A guess that arrives while the last allowed one is still being
        # checked: lock now, before that one has a chance to.
        over = row.count > app_settings.REAUTH_MAX_ATTEMPTS
        if over:
            row.locked_until = now + window
        if row._state.adding:  # a new row: no one else can insert it under the lock
            row.save(force_insert=True)
        else:
            row.save(update_fields=["count", "window_started_at", "locked_until"])
    if over:
        raise LockedOut(retry_after=_retry_after(row.locked_until, now))
    return row.count


def lock(user):
    """Lock re-authentication; returns the seconds the lock lasts."""
    seconds = app_settings.REAUTH_LOCKOUT
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    # take_attempt created the row; a right password in a parallel request
    # may have deleted it since.
    if not _lockouts().filter(user_id=user.pk).update(locked_until=until):
        with transaction.atomic(using=_database(user)):
            _lock_user_row(user)
            _lockouts().update_or_create(
                user_id=user.pk,
                defaults={"locked_until": until},
                create_defaults={"count": 0, "window_started_at": now, "locked_until": until},
            )
    return seconds


def reset_attempts(user):
    """Forget the count after a right password; a lockout set meanwhile stays."""
    now = timezone.now()
    rows = _lockouts().filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now), user_id=user.pk
    )
    # Called in the flow's transaction: the one DELETE adds no commit (and
    # a host's delete signals for the model still fire).
    rows.delete()


def forget(user, addresses=()):
    """Drop the user's lockout and attempt count (their row) and the cooldowns of ``addresses``.

    For resetting an account (a demo, a support tool): cooldowns are kept
    per address, hashed, so only those of the addresses named can be found.
    """
    _lockouts().filter(user_id=user.pk).delete()
    _cache().delete_many(
        [
            _cooldown_key(user, purpose, address)
            for purpose in (VERIFY, CHANGE, ANY_PURPOSE)
            for address in {*addresses, None}
        ]
    )
