"""Parallel wrong passwords on a real database, whatever cache the host runs.

The attempts live in the app's table (``ReauthAttempts``): each guess locks
the user's row to reserve its attempt, so no cache, not even Django's
DatabaseCache (whose ``incr`` is get-then-set), lets a burst of guesses get
more passwords checked than ``REAUTH_MAX_ATTEMPTS``.
"""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from django_verified_email import flows
from django_verified_email.exceptions import LockedOut, WrongPassword
from tests.helpers import PASSWORD, run_at_once

pytestmark = pytest.mark.concurrency

MAX = 3
GUESSES = 10


@pytest.fixture(params=["database-cache", "redis"])
def host_cache(request, settings):
    if request.param == "database-cache":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "verified_email_test_cache",
                "TIMEOUT": None,
            }
        }
        call_command("createcachetable", verbosity=0)
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": MAX, "BASE_URL": "http://testserver"}
    yield request.param
    caches["default"].clear()


@pytest.fixture
def checked_passwords(monkeypatch):
    """Every password checked, each check held long enough for all to overlap."""
    checked = []
    lock = threading.Lock()
    check_password = get_user_model().check_password

    def counted(self, raw_password):
        with lock:
            checked.append(raw_password)
        time.sleep(0.05)
        return check_password(self, raw_password)

    monkeypatch.setattr(get_user_model(), "check_password", counted)
    return checked


def guess(user, number):
    return lambda: flows.request_change(user, "new@example.com", f"guess {number}")


def guess_in_callers_transaction(user, number):
    """As a host's view under ATOMIC_REQUESTS: the error is answered, and committed."""

    def call():
        with transaction.atomic():
            try:
                flows.request_change(user, "new@example.com", f"guess {number}")
            except (WrongPassword, LockedOut) as error:
                return error
        raise AssertionError("a wrong password was accepted")

    return call


@pytest.mark.parametrize("make_guess", [guess, guess_in_callers_transaction])
def test_parallel_guesses_never_get_more_than_max_passwords_checked(
    host_cache, user, checked_passwords, make_guess
):
    results = run_at_once(*(make_guess(user, number) for number in range(GUESSES)))

    outcomes = [value for _, value in results]
    assert all(isinstance(outcome, WrongPassword | LockedOut) for outcome in outcomes), outcomes
    assert len(checked_passwords) == MAX
    assert sum(isinstance(outcome, LockedOut) for outcome in outcomes) == GUESSES - MAX + 1
    with pytest.raises(LockedOut):
        flows.request_change(user, "new@example.com", PASSWORD)


def test_parallel_guesses_through_the_pages_under_atomic_requests(
    host_cache, user, checked_passwords, monkeypatch
):
    # Every thread's connection is made from this one dict.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    clients = []
    for _ in range(GUESSES):
        client = Client()
        client.force_login(user)
        clients.append(client)

    def post(number):
        return lambda: (
            clients[number]
            .post(
                "/account/email/change/",
                {"new_email": "new@example.com", "password": f"guess {number}"},
            )
            .status_code
        )

    results = run_at_once(*(post(number) for number in range(GUESSES)))

    statuses = sorted(value for _, value in results)
    assert len(checked_passwords) == MAX
    assert statuses.count(429) == GUESSES - MAX + 1, results
    assert statuses.count(200) + statuses.count(400) == MAX - 1, results
