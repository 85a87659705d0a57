"""Rows of the public contract that no other test pins down.

Each test names the contract section it holds the package to. Most rows are
covered where their feature is tested (test_verify, test_change, tests/api...);
this file only adds what was missing.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import IntegrityError, connection, transaction
from django.test import Client

from django_verified_email import is_email_verified, signals
from django_verified_email.conf import app_settings
from django_verified_email.models import EmailChange, ReauthAttempts
from tests.helpers import (
    assert_error,
    client_for,
    email_of,
    link_path,
    reloaded,
    request_change,
    send_verification,
    url,
)
from tests.helpers import call as api_call

from .failing_mail import LOCMEM, REFUSING, use_mail_backend

LOGIN_REQUIRED_MIDDLEWARE = "django.contrib.auth.middleware.LoginRequiredMiddleware"
COMMON_MIDDLEWARE = "django.middleware.common.CommonMiddleware"


def assert_private(response):
    assert response["Referrer-Policy"] == "no-referrer", response
    assert "no-store" in response["Cache-Control"], response


# The flows: one EmailChange row, at most one open per user ----------------------


def test_a_change_has_the_contract_statuses_and_only_the_waiting_ones_are_open():
    assert set(EmailChange.Status.values) >= {
        "awaiting_old",
        "awaiting_new",
        "completed",
        "cancelled",
        "superseded",
        "scheduled",
        "denied",
    }
    # A scheduled recovery counts as the user's one open change (Additions).
    assert set(EmailChange.PENDING_STATUSES) == {"awaiting_old", "awaiting_new", "scheduled"}


@pytest.mark.skipif(
    not connection.features.supports_partial_indexes,
    reason="MariaDB cannot hold a conditional unique constraint: the flows' row locks keep one",
)
def test_the_database_refuses_a_second_open_change(user):
    for status in ("completed", "cancelled", "superseded", "awaiting_old"):
        EmailChange.objects.create(user=user, new_email=f"{status}@example.com", status=status)

    for second in ("awaiting_new", "scheduled"):
        with pytest.raises(IntegrityError), transaction.atomic():
            EmailChange.objects.create(user=user, new_email="two@example.com", status=second)
    assert EmailChange.objects.pending().count() == 1


# HTML pages: verify-confirm and change-confirm need no login ---------------------


def test_token_pages_need_no_login_even_under_login_required_middleware(
    settings, make_user, mailoutbox
):
    # A host that makes every page need a login (Django's LoginRequiredMiddleware)
    # still serves the link pages to whoever opens the link: the contract's
    # "login: no", and no token carried on to the login page in ?next=.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED_MIDDLEWARE]
    unverified = make_user(username="bob", email="bob@example.com", verified=False)
    send_verification(client_for(unverified))
    verify_link = link_path(mailoutbox[-1], to="bob@example.com")

    assert Client().get(verify_link).status_code == 200
    assert Client().post(verify_link).status_code == 302
    assert is_email_verified(reloaded(unverified))

    alice = make_user()
    request_change(client_for(alice), "new@example.com")
    old_step = Client().get(link_path(mailoutbox[-1], to="alice@example.com"))
    assert old_step.status_code == 200
    assert Client().post(link_path(mailoutbox[-1])).status_code == 200
    assert Client().post(link_path(mailoutbox[-1], to="new@example.com")).status_code == 302
    assert email_of(reloaded(alice)) == "new@example.com"

    # The pages the contract says need a login still do.
    assert Client().get(url("status")).status_code == 302


# HTML pages: every response to a token URL is private ----------------------------


def test_a_token_url_whose_view_fails_still_answers_privately(settings, logged_in, mailoutbox):
    # Without CommonMiddleware the forged Host is only noticed when the view
    # builds its link base: Django turns that error into its 400 page, which
    # must carry the token URL's headers like any other answer.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != COMMON_MIDDLEWARE]
    request_change(logged_in, "new@example.com")

    response = Client().post(link_path(mailoutbox[-1]), HTTP_HOST="evil.example.net")

    assert response.status_code == 400
    assert_private(response)
    assert EmailChange.objects.get().status == "awaiting_old"


def test_a_token_url_without_its_trailing_slash_redirects_privately(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")
    link = link_path(mailoutbox[-1])

    response = Client().get(link.rstrip("/"))

    assert response.status_code in (301, 302)
    assert response["Location"].endswith(link)
    assert_private(response)
    # Following it shows the confirm page, and uses nothing up.
    assert Client().get(link.rstrip("/"), follow=True).status_code == 200
    assert EmailChange.objects.get().status == "awaiting_old"


# JSON API: 503 delivery_failed on every endpoint that sends ------------------------


def test_api_resend_with_the_mail_server_down_answers_503_and_keeps_the_change(
    settings, logged_in, mailoutbox
):
    settings.ROOT_URLCONF = "tests.api.urls"
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    request_change(logged_in, "new@example.com")
    use_mail_backend(settings, REFUSING)

    assert_error(api_call(logged_in, "change-resend"), 503, "delivery_failed")

    assert EmailChange.objects.get().status == "awaiting_old"
    use_mail_backend(settings, LOCMEM)
    assert api_call(logged_in, "change-resend").status_code == 202
    assert Client().post(link_path(mailoutbox[-1], to="alice@example.com")).status_code == 200


# Settings ------------------------------------------------------------------------


def test_every_setting_has_the_contract_default(settings):
    settings.VERIFIED_EMAIL = {}

    assert {
        key: getattr(app_settings, key)
        for key in (
            "LINK_MAX_AGE",
            "REAUTH_MAX_ATTEMPTS",
            "REAUTH_LOCKOUT",
            "RESEND_COOLDOWN",
            "REVEAL_TAKEN_EMAIL",
            "NOTIFY_OLD_EMAIL",
            "DELIVERY",
            "BASE_URL",
            "CACHE",
            "SUCCESS_URL",
        )
    } == {
        "LINK_MAX_AGE": 86400,
        "REAUTH_MAX_ATTEMPTS": 5,
        "REAUTH_LOCKOUT": 900,
        "RESEND_COOLDOWN": 60,
        "REVEAL_TAKEN_EMAIL": True,
        "NOTIFY_OLD_EMAIL": True,
        "DELIVERY": "sync",
        "BASE_URL": None,
        "CACHE": "default",
        "SUCCESS_URL": None,
    }


def test_cache_setting_names_the_cache_for_cooldowns_not_lockouts(settings, logged_in):
    settings.CACHES = {
        **settings.CACHES,
        "limits": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "verified-email-contract-limits",
        },
    }
    settings.VERIFIED_EMAIL = {"CACHE": "limits", "REAUTH_MAX_ATTEMPTS": 1}
    caches["limits"].clear()
    try:
        assert request_change(logged_in, "new@example.com", password="wrong").status_code == 429
        # Lockouts live in the app's table: emptying a cache does not end one.
        caches["default"].clear()
        caches["limits"].clear()
        assert request_change(logged_in, "new@example.com").status_code == 429
        ReauthAttempts.objects.all().delete()
        assert request_change(logged_in, "new@example.com").status_code == 302
        # The resend cooldown that request just took lives in the named cache only.
        caches["default"].clear()
        assert logged_in.post(url("change-resend")).status_code == 429
        caches["limits"].clear()
        assert logged_in.post(url("change-resend")).status_code == 302
    finally:
        caches["limits"].clear()


# Signals --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_email_change_cancelled_is_sent_after_commit_with_its_arguments(make_user):
    user = make_user()
    client = client_for(user)
    heard = []

    def receiver(sender, **kwargs):
        heard.append((sender, kwargs, connection.in_atomic_block))

    request_change(client, "new@example.com")
    signals.email_change_cancelled.connect(receiver)
    try:
        client.post(url("change-cancel"))
    finally:
        signals.email_change_cancelled.disconnect(receiver)

    [(sender, kwargs, in_transaction)] = heard
    assert sender is get_user_model()
    assert kwargs["user"].pk == user.pk
    assert kwargs["change"].pk == EmailChange.objects.get().pk
    assert kwargs["change"].status == "cancelled"
    assert not in_transaction


@pytest.mark.django_db(transaction=True)
def test_reauthentication_signals_wait_for_the_request_transaction(
    make_user, monkeypatch, settings
):
    # Under ATOMIC_REQUESTS a wrong password is checked inside the request's
    # transaction: its receivers run once that commits, on both front ends,
    # and what they write is kept (an audit trail of wrong passwords).
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    settings.ROOT_URLCONF = "tests.api.urls"
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2}
    user = make_user()
    client = client_for(user)
    heard = []

    def receiver(sender, signal, **kwargs):
        heard.append((signal, connection.in_atomic_block))
        make_user(username=f"audit{len(heard)}", email="")

    watched = [signals.reauthentication_failed, signals.user_locked_out]
    for signal in watched:
        signal.connect(receiver)
    try:
        assert request_change(client, "new@example.com", password="wrong").status_code == 200
        response = api_call(client, "change", {"new_email": "n@example.com", "password": "wrong"})
    finally:
        for signal in watched:
            signal.disconnect(receiver)

    assert_error(response, 429, "locked_out")
    assert heard == [
        (signals.reauthentication_failed, False),
        (signals.reauthentication_failed, False),
        (signals.user_locked_out, False),
    ]
    assert get_user_model().objects.filter(username__startswith="audit").count() == 3
