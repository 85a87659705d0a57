"""Throttle details the concurrency suites rely on, on the default cache."""

import time

import pytest
from django.core.cache import caches

from django_verified_email import throttle
from django_verified_email.exceptions import LockedOut

pytestmark = pytest.mark.hardening


def test_a_lockout_does_not_reset_the_attempt_counter(user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3}
    assert [throttle.take_attempt(user) for _ in range(3)] == [1, 2, 3]
    throttle.lock(user)
    # A guess that passed the lockout check just before the lock was set.
    caches["default"].delete(throttle._key("locked", user))

    with pytest.raises(LockedOut):
        throttle.take_attempt(user)


def test_a_cooldown_over_by_the_clock_is_over_even_if_the_cache_still_holds_it(user):
    # The cache server's clock runs its expiry; ours says the cooldown ended.
    key = throttle._cooldown_key(user, throttle.CHANGE, "new@example.com")
    caches["default"].set(key, time.time() - 1, timeout=3600)

    throttle.claim_send(user, throttle.CHANGE, "new@example.com")

    assert caches["default"].get(key) > time.time()
