"""The API's change request, deny and revert record where they came from, as the HTML ones do."""

import pytest
import time_machine
from django.test import Client

from django_verified_email import flows
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    call,
    complete_dual_change,
    later,
    revert_token_in,
    token_in,
)
from tests.test_request_context import (
    DONE,
    FIREFOX_ANDROID,
    NOW,
    REFUSER,
    SENTENCE,
    assert_says,
    refused_context,
)

pytest.importorskip("ua_parser")


@time_machine.travel(NOW, tick=False)
def test_the_api_captures_the_same_context(logged_in, mailoutbox):
    response = call(
        logged_in,
        "change",
        {"new_email": "alice.new@example.com", "password": PASSWORD},
        REMOTE_ADDR="27.34.1.2",
        HTTP_USER_AGENT=FIREFOX_ANDROID,
        HTTP_X_FORWARDED_FOR="6.6.6.6",
    )

    assert response.status_code == 202, response.content
    change = EmailChange.objects.get()
    assert (change.requested_ip, change.requested_browser, change.requested_os) == (
        "27.34.1.2",
        "Firefox Mobile",
        "Android",
    )
    [message] = mailoutbox
    assert_says(message, SENTENCE)


@time_machine.travel(NOW, tick=False)
def test_the_api_deny_captures_the_refusals_context(user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)

    with later(3600):
        response = call(
            Client(),
            "change-deny",
            {"token": token_in(mailoutbox[0])},
            HTTP_X_FORWARDED_FOR="6.6.6.6",
            **REFUSER,
        )

    assert response.status_code == 200, response.content
    assert refused_context(EmailChange.objects.get()) == ("198.51.100.7", "Chrome", "Windows")
    [to_old] = [m for m in mailoutbox[1:] if m.to == ["alice@example.com"]]
    assert_says(to_old, DONE)


@time_machine.travel(NOW, tick=False)
def test_the_api_revert_captures_the_refusals_context(user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    notice = complete_dual_change(user, "alice.new@example.com", mailoutbox)
    sent = len(mailoutbox)

    with later(3600):
        response = call(
            Client(),
            "change-revert",
            {"token": revert_token_in(notice), "password": PASSWORD},
            **REFUSER,
        )

    assert response.status_code == 200, response.content
    assert refused_context(EmailChange.objects.get()) == ("198.51.100.7", "Chrome", "Windows")
    assert len(mailoutbox[sent:]) == 2
    for message in mailoutbox[sent:]:
        assert_says(message, DONE)
