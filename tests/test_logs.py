"""Links never reach the logs (INFO and up) nor the error pages.

Every token a flow hands out or is handed is collected, then searched for in
every log record at INFO or above: its message, its arguments, its
traceback, and the repr of everything attached to it (Django attaches the
request).
"""

import copy
import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_verified_email import flows
from tests.failing_mail import REFUSING, use_mail_backend
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    complete_dual_change,
    error_report,
    later,
    links_in,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
)

pytestmark = pytest.mark.hardening


def leaked(records, tokens):
    found = []
    for record in records:
        if record.levelno < logging.INFO:
            continue
        text = " ".join(
            [
                record.getMessage(),
                repr(record.args),
                record.exc_text or "",
                repr(record.exc_info[1]) if record.exc_info else "",
                repr(vars(record)),
            ]
        )
        found += [(record.name, token) for token in tokens if token in text]
    return found


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def test_no_token_in_logs_or_pages_through_every_html_outcome(
    logs, make_user, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", "alice@example.com")
    tokens = set()
    pages = []

    # Request, then open and confirm the old address's link.
    assert request_change(client_for(alice), "new@example.com").status_code == 302
    old = token_in(mailoutbox[-1])
    tokens.add(old)
    pages.append(Client().get(f"/account/email/change/confirm/{old}/"))
    pages.append(Client().post(f"/account/email/change/confirm/{old}/"))
    new = token_in(mailoutbox[-1])
    tokens.add(new)
    # The used link again: 400.
    pages.append(Client().post(f"/account/email/change/confirm/{old}/"))
    # A tampered link: 400.
    tampered = new[:-3] + ("AAA" if not new.endswith("AAA") else "BBB")
    tokens.add(tampered)
    pages.append(Client().post(f"/account/email/change/confirm/{tampered}/"))
    # An expired link: 410.
    with later(86400 + 1):
        pages.append(Client().post(f"/account/email/change/confirm/{new}/"))
    # Taken meanwhile: 409.
    make_user("bob", "NEW@example.com")
    pages.append(Client().post(f"/account/email/change/confirm/{new}/"))

    statuses = sorted(page.status_code for page in pages)
    assert statuses == [200, 200, 400, 400, 409, 410]
    for page in pages:
        assert not [token for token in tokens if token.encode() in page.content]
    assert any(record.name == "django.request" for record in logs.records)
    assert not leaked(logs.records, tokens)


def test_no_token_in_logs_when_delivery_fails(logs, make_user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user("alice", "alice@example.com")
    flows.request_change(alice, "new@example.com", PASSWORD, base_url=BASE_URL)
    old = token_in(mailoutbox[-1])
    use_mail_backend(settings, REFUSING)

    page = Client().post(f"/account/email/change/confirm/{old}/")

    assert page.status_code == 503
    assert old.encode() not in page.content
    assert any(record.levelno >= logging.ERROR for record in logs.records)
    # The link the failed message would have carried, signed now for comparison.
    change = get_user_model()._default_manager.get(pk=alice.pk).email_changes.get()
    from django_verified_email import tokens as token_module

    unsent = token_module.make_change_token(change, "new")
    assert not leaked(logs.records, {old, unsent})


def test_no_token_in_logs_through_the_revert_pages(logs, user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    notice = complete_dual_change(user, "mallory@example.com", mailoutbox)
    token = revert_token_in(notice)
    tokens = {token, *(token_in(m) for m in mailoutbox if links_in(m, ["change/confirm"]))}

    pages = [
        Client().get(revert_path(token)),
        Client().post(revert_path(token), {"password": PASSWORD}),
        Client().post(revert_path(token), {"password": PASSWORD}),  # used: 400
    ]

    assert [page.status_code for page in pages] == [200, 200, 400]
    for page in pages:
        assert token.encode() not in page.content
    assert not leaked(logs.records, tokens)


def test_an_error_report_of_a_token_page_carries_no_token(
    settings, tmp_path, user, mailoutbox, caplog
):
    # What AdminEmailHandler (and error trackers) send for a 500: the frames'
    # variables and the request's META, which gunicorn and uWSGI fill with
    # the raw request line.
    request_change(client_for(user), "new@example.com")
    token = token_in(mailoutbox[-1])
    path = f"/account/email/change/confirm/{token}/"
    folder = tmp_path / "verified_email"
    folder.mkdir()
    (folder / "change_confirm.html").write_text("{% url 'no-such-view' %}")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path)]
    settings.TEMPLATES = templates

    response = Client(raise_request_exception=False).get(
        path, RAW_URI=path, REQUEST_URI=path, SCRIPT_URL=path
    )

    assert response.status_code == 500
    text, html = error_report(caplog)
    assert "no-such-view" in text
    assert token not in text
    assert token not in html


def test_an_error_report_of_a_change_request_carries_no_password(user, monkeypatch, caplog):
    # The form re-asks for the password: like Django's own login and
    # password views, its error reports must not show it (POST nor frames).
    def failing(user, new_email, password, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(flows, "request_change", failing)
    browser = client_for(user)
    browser.raise_request_exception = False

    response = request_change(browser, "new@example.com")

    assert response.status_code == 500
    text, html = error_report(caplog)
    assert "the database went away" in text
    assert PASSWORD not in text
    assert PASSWORD not in html


def test_no_code_in_logs_or_pages_through_every_outcome(logs, make_user, mailoutbox, settings):
    from tests.helpers import code_in, url

    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CODE_MAX_ATTEMPTS": 3}
    alice = make_user("alice", "alice@example.com")
    browser = client_for(alice)
    codes = set()
    pages = []

    def typed(code):
        codes.add(code)
        codes.add(code.replace("-", ""))
        pages.append(browser.post(url("change-code"), {"code": code}))

    request_change(browser, "new@example.com")
    old = code_in(mailoutbox[-1])
    wrong = f"{(int(old.replace('-', '')) + 1) % 10**6:06d}"
    typed(wrong[:3] + "-" + wrong[3:])  # wrong: 400
    typed(old)  # right: 200
    typed(old)  # used: 410 (its step is done)
    new = code_in(mailoutbox[-1])
    with later(901):
        typed(new)  # expired: 410
    browser.post(url("change-resend"))
    typed(new)  # replaced: 410
    newest = code_in(mailoutbox[-1])
    typed(newest)  # completes: 302

    statuses = sorted(page.status_code for page in pages)
    assert statuses == [200, 302, 400, 410, 410, 410]
    for page in pages:
        assert not [code for code in codes if code.encode() in page.content]
    assert any(record.name == "django.request" for record in logs.records)
    assert not leaked(logs.records, codes)


def test_an_error_report_of_a_code_page_carries_no_code(user, monkeypatch, caplog):
    from tests.helpers import url

    def failing(user, code, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(flows, "confirm_change_by_code", failing)
    monkeypatch.setattr(flows, "confirm_verification_by_code", failing)
    for name in ("change-code", "verify-code"):
        caplog.clear()
        browser = client_for(user)
        browser.raise_request_exception = False

        response = browser.post(url(name), {"code": "271-828"})

        assert response.status_code == 500
        text, html = error_report(caplog)
        assert "the database went away" in text
        for spelling in ("271-828", "271828"):
            assert spelling not in text
            assert spelling not in html
