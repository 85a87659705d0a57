"""Resend cooldowns and re-authentication lockouts, kept in Django's cache.

Counters use ``cache.add`` and ``cache.incr``, which are atomic on the shared
backends (Redis, Memcached, database), so limits hold across processes.
"""

import hashlib
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches

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


def check_lockout(user):
    until = _cache().get(_key("locked", user))
    if until is not None and until > time.time():
        raise LockedOut(retry_after=_seconds_left(until))


def take_attempt(user):
    """Reserve one password attempt before checking the password.

    Reserving first means parallel guesses cannot get more than
    ``REAUTH_MAX_ATTEMPTS`` passwords checked. Returns the attempt number.
    The counter only grows until it expires (``REAUTH_LOCKOUT`` after the
    first attempt, so never before a lockout it led to ends): a lockout
    does not reset it, or guesses already on their way would start a fresh
    count behind it.
    """
    check_lockout(user)
    cache = _cache()
    key = _key("attempts", user)
    cache.add(key, 0, timeout=app_settings.REAUTH_LOCKOUT)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=app_settings.REAUTH_LOCKOUT)
        attempts = 1
    if attempts > app_settings.REAUTH_MAX_ATTEMPTS:
        if _cache().get(_key("locked", user)) is None:
            lock(user)
        check_lockout(user)
    return attempts


def lock(user):
    """Lock re-authentication; returns the seconds the lock lasts."""
    seconds = app_settings.REAUTH_LOCKOUT
    _cache().set(_key("locked", user), time.time() + seconds, timeout=seconds)
    return seconds


def reset_attempts(user):
    _cache().delete(_key("attempts", user))


def forget(user, addresses=()):
    """Drop the user's lockout, attempt count and the cooldowns of ``addresses``.

    For resetting an account (a demo, a support tool): cooldowns are kept
    per address, hashed, so only those of the addresses named can be found.
    """
    cache = _cache()
    cache.delete_many([_key("locked", user), _key("attempts", user)])
    cache.delete_many(
        [
            _cooldown_key(user, purpose, address)
            for purpose in (VERIFY, CHANGE, ANY_PURPOSE)
            for address in {*addresses, None}
        ]
    )
