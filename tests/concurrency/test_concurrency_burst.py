"""A burst of change requests by one account: a double click, a script, four tabs.

Every request takes a password attempt (``ReauthAttempts``) and then locks the
user row for the change; a burst on one account must wait its turn on one lock
order and never end in a deadlock (a 500).
"""

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, run_at_once

pytestmark = pytest.mark.concurrency

ROUNDS = 30
THREADS = 4


def _api_clients(user):
    clients = []
    for _ in range(THREADS):
        client = APIClient()
        client.force_authenticate(user)
        clients.append(client)
    return clients


def _page_clients(user):
    clients = []
    for _ in range(THREADS):
        client = Client()
        client.force_login(user)
        clients.append(client)
    return clients


def _api_post(client, address):
    return lambda: (
        client.post(
            "/api/account/email/change/",
            {"new_email": address, "password": PASSWORD},
            format="json",
        ).status_code
    )


def _page_post(client, address):
    return lambda: (
        client.post(
            "/account/email/change/", {"new_email": address, "password": PASSWORD}
        ).status_code
    )


@pytest.mark.parametrize(
    ("make_clients", "post", "atomic_requests"),
    [
        (_api_clients, _api_post, False),
        (_page_clients, _page_post, False),
        (_page_clients, _page_post, True),
    ],
    ids=["api", "pages", "pages-atomic-requests"],
)
def test_a_burst_of_change_requests_never_deadlocks(
    user, settings, monkeypatch, make_clients, post, atomic_requests
):
    if make_clients is _api_clients:
        settings.ROOT_URLCONF = "tests.api.urls"
    settings.VERIFIED_EMAIL = {
        "RESEND_COOLDOWN": 0,
        "BASE_URL": "http://testserver",
        "CHANGE_REQUESTS_PER_DAY": ROUNDS * THREADS,
        "CHANGE_EMAILS_PER_DAY": ROUNDS * THREADS,
    }
    # Every thread's connection is made from this one dict.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    clients = make_clients(user)
    for round_number in range(ROUNDS):
        results = run_at_once(
            *(
                post(client, f"burst-{round_number}-{number}@example.com")
                for number, client in enumerate(clients)
            )
        )
        assert all(kind == "ok" for kind, _ in results), results
        statuses = [value for _, value in results]
        assert all(status in (200, 202, 302) for status in statuses), (round_number, statuses)
        assert EmailChange.objects.pending_for(user).count() == 1
