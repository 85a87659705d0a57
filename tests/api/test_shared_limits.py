"""Lockouts and cooldowns are the flows': earned on one front end, they hold on the other."""

from django.urls import reverse

from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, api_request_change, assert_error, call

NEW = "alice.new@example.com"


def html_change(client, password):
    return client.post(reverse("verified_email:change"), {"new_email": NEW, "password": password})


def test_lockout_earned_on_the_html_form_holds_in_the_api(logged_in, settings, mailoutbox):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2, "REAUTH_LOCKOUT": 600}
    html_change(logged_in, "wrong")
    assert html_change(logged_in, "wrong").status_code == 429

    response = api_request_change(logged_in, NEW, PASSWORD)

    assert_error(response, 429, "locked_out")
    assert 1 <= int(response["Retry-After"]) <= 600
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_lockout_earned_in_the_api_holds_on_the_html_form(logged_in, settings, mailoutbox):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2, "REAUTH_LOCKOUT": 600}
    api_request_change(logged_in, NEW, "wrong")
    assert_error(api_request_change(logged_in, NEW, "wrong"), 429, "locked_out")

    response = html_change(logged_in, PASSWORD)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 600
    assert EmailChange.objects.count() == 0
    assert mailoutbox == []


def test_attempts_add_up_across_both_front_ends(logged_in, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 2}
    assert html_change(logged_in, "wrong").status_code == 200  # the form, with its error

    assert_error(api_request_change(logged_in, NEW, "wrong"), 429, "locked_out")


def test_cooldown_of_an_html_send_holds_in_the_api(client, make_user, mailoutbox):
    client.force_login(make_user(verified=False))
    client.post(reverse("verified_email:verify-send"))

    response = call(client, "verify-send")

    assert_error(response, 429, "throttled")
    assert len(mailoutbox) == 1


def test_cooldown_of_an_api_send_holds_on_the_html_pages(logged_in, mailoutbox):
    api_request_change(logged_in, NEW)

    response = logged_in.post(reverse("verified_email:change-resend"))

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert len(mailoutbox) == 1
