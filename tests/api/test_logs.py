"""Findings of the security review that concern the JSON API."""

import logging

from django.test import Client

from django_verified_email import flows
from tests.helpers import PASSWORD, call, client_for, error_report, request_change, token_in


def test_an_error_report_of_a_confirm_call_carries_no_token(user, mailoutbox, monkeypatch, caplog):
    # What AdminEmailHandler (and error trackers) send for a 500: the
    # variables of every frame, here the parsed body that holds the token.
    request_change(client_for(user), "new@example.com")
    token = token_in(mailoutbox[-1])

    def failing(token, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(flows, "confirm_change", failing)
    caplog.set_level(logging.ERROR)

    response = call(Client(raise_request_exception=False), "change-confirm", {"token": token})

    assert response.status_code == 500
    text, html = error_report(caplog)
    assert "the database went away" in text
    assert token not in text
    assert token not in html


def test_an_error_report_of_a_change_call_carries_no_password(user, monkeypatch, caplog):
    def failing(user, new_email, password, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(flows, "request_change", failing)
    caplog.set_level(logging.ERROR)
    browser = client_for(user)
    browser.raise_request_exception = False

    response = call(browser, "change", {"new_email": "new@example.com", "password": PASSWORD})

    assert response.status_code == 500
    text, html = error_report(caplog)
    assert "the database went away" in text
    assert PASSWORD not in text
    assert PASSWORD not in html
