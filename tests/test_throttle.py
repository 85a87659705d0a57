"""Throttle details the concurrency suites rely on."""

import time

import pytest
from django.core.cache import caches

from django_verified_email import throttle
from django_verified_email.exceptions import LockedOut
from django_verified_email.models import ReauthAttempts

pytestmark = pytest.mark.hardening


def test_a_lockout_does_not_reset_the_attempt_counter(user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 3}
    assert [throttle.take_attempt(user) for _ in range(3)] == [1, 2, 3]
    throttle.lock(user)
    # A lock lifted by hand (an admin) before the count's window is over.
    ReauthAttempts.objects.filter(user=user).update(locked_until=None)

    with pytest.raises(LockedOut):
        throttle.take_attempt(user)


def test_a_cooldown_over_by_the_clock_is_over_even_if_the_cache_still_holds_it(user):
    # The cache server's clock runs its expiry; ours says the cooldown ended.
    key = throttle._cooldown_key(user, throttle.CHANGE, "new@example.com")
    caches["default"].set(key, time.time() - 1, timeout=3600)

    throttle.claim_send(user, throttle.CHANGE, "new@example.com")

    assert caches["default"].get(key) > time.time()


def test_lock_without_a_counter_row_still_locks(user):
    # A right password in a parallel request deleted the row in between.
    throttle.lock(user)

    with pytest.raises(LockedOut) as raised:
        throttle.check_lockout(user)
    assert raised.value.retry_after == 900


def test_a_right_password_does_not_lift_a_lockout_set_meanwhile(user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2}
    assert throttle.take_attempt(user) == 1  # the owner's, still being checked
    assert throttle.take_attempt(user) == 2
    with pytest.raises(LockedOut):
        throttle.take_attempt(user)  # a third guess in flight locks at once

    throttle.reset_attempts(user)  # the owner's password was right

    with pytest.raises(LockedOut):
        throttle.check_lockout(user)


def test_a_right_password_forgets_the_count(user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2}
    throttle.take_attempt(user)
    throttle.reset_attempts(user)

    assert not ReauthAttempts.objects.filter(user=user).exists()
    assert throttle.take_attempt(user) == 1
