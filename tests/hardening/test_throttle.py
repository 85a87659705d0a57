"""Throttle details the concurrency suites rely on."""

import time

import pytest
from django.core.cache import caches

from django_verified_email import throttle
from django_verified_email.exceptions import LockedOut
from django_verified_email.models import ReauthAttempts


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
    caches["default"].set(throttle._key("cooldown", user), time.time() - 1, timeout=3600)

    throttle.claim_send(user)

    assert caches["default"].get(throttle._key("cooldown", user)) > time.time()
