"""The re-auth lockout holds its documented limit whatever cache the host runs.

Django's DatabaseCache and FileBasedCache implement ``incr`` as get-then-set
with the cache's default timeout: counters kept there either never expire
(``TIMEOUT: None``) or slide forward with every guess (the default 300 s).
Each test runs on every cache the docs recommend that the SQLite suite can
run (Redis and Memcached need services; the PostgreSQL suite runs Redis).
"""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.core.management import call_command
from django.utils import timezone

from django_verified_email import flows
from django_verified_email.exceptions import EmailTaken, LockedOut, WrongPassword
from tests.helpers import PASSWORD

pytestmark = pytest.mark.hardening

MAX = 3
LOCKOUT = 900
NEW = "alice.new@example.com"


def locmem():
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def database(timeout):
    return {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "verified_email_test_cache",
        "TIMEOUT": timeout,
    }


def file_based(timeout, tmp_path):
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(tmp_path / "cache"),
        "TIMEOUT": timeout,
    }


@pytest.fixture(
    params=[
        "locmem",
        "database-no-timeout",
        "database-300",
        "file-no-timeout",
        "file-300",
    ]
)
def host_cache(request, settings, tmp_path, db):
    timeout = None if request.param.endswith("no-timeout") else 300
    if request.param == "locmem":
        backend = locmem()
    elif request.param.startswith("database"):
        backend = database(timeout)
    else:
        backend = file_based(timeout, tmp_path)
    settings.CACHES = {"default": backend}
    settings.VERIFIED_EMAIL = {
        "REAUTH_MAX_ATTEMPTS": MAX,
        "REAUTH_LOCKOUT": LOCKOUT,
        "RESEND_COOLDOWN": 0,
        "BASE_URL": "http://testserver",
    }
    if request.param.startswith("database"):
        call_command("createcachetable", verbosity=0)
    yield request.param
    caches["default"].clear()


def guess(user, password="wrong"):
    flows.request_change(user, NEW, password)


def lock_out(user):
    for _ in range(MAX - 1):
        with pytest.raises(WrongPassword):
            guess(user)
    with pytest.raises(LockedOut):
        guess(user)


def test_the_lockout_ends_after_reauth_lockout(host_cache, user, mailoutbox):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        lock_out(user)
        clock.shift(timedelta(seconds=LOCKOUT - 1))
        with pytest.raises(LockedOut) as raised:
            guess(user, PASSWORD)
        assert raised.value.retry_after == 1

        clock.shift(timedelta(seconds=2))
        # Not locked for good: the right password works again.
        assert flows.request_change(user, NEW, PASSWORD).status == "awaiting_old"


def test_after_the_lockout_a_fresh_count_starts(host_cache, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        lock_out(user)
        clock.shift(timedelta(seconds=LOCKOUT + 1))
        # One typo after the lockout is one attempt, not the next lockout.
        with pytest.raises(WrongPassword):
            guess(user)
        assert flows.request_change(user, NEW, PASSWORD).status == "awaiting_old"


def test_a_patient_guesser_is_still_locked_out(host_cache, user):
    """One guess every 301 s: MAX of them fall within one window of REAUTH_LOCKOUT."""
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(MAX - 1):
            with pytest.raises(WrongPassword):
                guess(user)
            clock.shift(timedelta(seconds=301))
        with pytest.raises(LockedOut):
            guess(user)
        with pytest.raises(LockedOut):
            guess(user, PASSWORD)


def test_the_window_is_counted_from_the_first_attempt(host_cache, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(MAX - 1):
            with pytest.raises(WrongPassword):
                guess(user)
        # The window of the first attempt is over: this one starts a new one.
        clock.shift(timedelta(seconds=LOCKOUT + 1))
        with pytest.raises(WrongPassword):
            guess(user)
        assert flows.request_change(user, NEW, PASSWORD).status == "awaiting_old"


def test_success_resets_the_count(host_cache, user):
    for _ in range(MAX - 1):
        with pytest.raises(WrongPassword):
            guess(user)
    flows.request_change(user, NEW, PASSWORD)
    for _ in range(MAX - 1):
        with pytest.raises(WrongPassword):
            guess(user)
    assert flows.request_change(user, "alice.other@example.com", PASSWORD).status == (
        "awaiting_old"
    )


def test_a_right_password_is_forgotten_even_when_the_request_is_refused_after_it(
    host_cache, user, make_user, settings
):
    # The count is forgotten in the change's transaction; a refusal rolls
    # that back, and the right password must not stay counted all the same.
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "REVEAL_TAKEN_EMAIL": True}
    make_user(username="owner", email=NEW, verified=True)
    for _ in range(MAX - 1):
        with pytest.raises(WrongPassword):
            guess(user)
    with pytest.raises(EmailTaken):
        flows.request_change(user, NEW, PASSWORD)

    for _ in range(MAX - 1):
        with pytest.raises(WrongPassword):
            guess(user)
