"""Findings of the security review, each pinned by a test that failed before its fix."""

import copy

from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from django_verified_email import flows, signals
from django_verified_email.models import EmailChange

from ..conftest import PASSWORD, client_for, email_of, error_report, later, reloaded
from ..steps import request_change
from .support import BASE_URL, REVERT_RE, token_of


def confirm_path(message):
    return f"/account/email/change/confirm/{token_of(message)}/"


def broken_template(settings, tmp_path, kind):
    """A host override of one email template that fails to render."""
    folder = tmp_path / "verified_email" / "email"
    folder.mkdir(parents=True)
    (folder / f"{kind}.html").write_text(
        '{% extends "verified_email/email/base.html" %}'
        "{% block subject %}{% url 'no-such-view' %}{% endblock %}"
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path)]
    settings.TEMPLATES = templates


def test_a_broken_completed_template_still_sends_the_old_address_its_way_back(
    settings, tmp_path, user, mailoutbox
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    browser = client_for(user)
    request_change(browser, "new@example.com")
    browser.post(confirm_path(mailoutbox[-1]))
    broken_template(settings, tmp_path, "change_completed")
    changed = []

    def receiver(**kwargs):
        changed.append(kwargs["new_email"])

    signals.email_changed.connect(receiver)
    try:
        key = browser.session.session_key
        response = browser.post(confirm_path(mailoutbox[-1]))
    finally:
        signals.email_changed.disconnect(receiver)

    assert email_of(reloaded(user)) == "new@example.com"
    # The notice with the "this wasn't me" link went out all the same ...
    assert any(REVERT_RE.search(m.body) for m in mailoutbox if m.to == ["alice@example.com"])
    # ... the host heard of the change, and the page says it is done.
    assert changed == ["new@example.com"]
    assert response.status_code == 503
    assert "Your email address is now new@example.com" in response.content.decode()
    # The session key the change was made under is worth nothing any more
    # (Django saves no session on a 5xx, so the renewal ends it instead).
    assert not SessionStore().exists(key)


def test_a_failing_receiver_does_not_turn_a_completed_change_into_an_error(user, mailoutbox):
    browser = client_for(user)
    request_change(browser, "new@example.com")
    browser.post(confirm_path(mailoutbox[-1]))

    def failing(**kwargs):
        raise RuntimeError("the host's webhook is down")

    signals.email_changed.connect(failing)
    try:
        key = browser.session.session_key
        response = browser.post(confirm_path(mailoutbox[-1]))
    finally:
        signals.email_changed.disconnect(failing)

    assert response.status_code == 302
    assert email_of(reloaded(user)) == "new@example.com"
    assert browser.session.session_key != key
    assert EmailChange.objects.get().status == EmailChange.Status.COMPLETED


def test_an_error_report_of_a_token_page_carries_no_token(
    settings, tmp_path, user, mailoutbox, caplog
):
    # What AdminEmailHandler (and error trackers) send for a 500: the frames'
    # variables and the request's META, which gunicorn and uWSGI fill with
    # the raw request line.
    request_change(client_for(user), "new@example.com")
    token = token_of(mailoutbox[-1])
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


def test_token_pages_work_without_session_and_auth_middleware(settings, user, mailoutbox):
    # An API-only host (token authentication) still serves the emailed links.
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "LOGOUT_OTHER_SESSIONS": True}
    request_change(client_for(user), "new@example.com")
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    browser = Client()

    assert browser.post(confirm_path(mailoutbox[-1])).status_code == 200
    assert browser.post(confirm_path(mailoutbox[-1])).status_code == 302
    [notice] = [m for m in mailoutbox if REVERT_RE.search(m.body)]
    revert = f"/account/email/change/revert/{REVERT_RE.search(notice.body).group(1)}/"
    assert browser.post(revert).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_expired_link_resend_without_auth_middleware_asks_to_log_in(settings, user, mailoutbox):
    request_change(client_for(user), "new@example.com")
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

    with later(86400 + 1):
        response = Client().post(confirm_path(mailoutbox[-1]), {"resend": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert len(mailoutbox) == 1


def test_base_url_keeps_links_on_the_site_whatever_host_the_request_names(
    settings, user, mailoutbox
):
    # Why W004 exists: without BASE_URL, links take the request's host, and
    # ALLOWED_HOSTS = ["*"] lets the requester name any.
    settings.ALLOWED_HOSTS = ["*"]

    request_change(client_for(user), "new@example.com", HTTP_HOST="evil.example.net")

    assert "://evil.example.net/" in mailoutbox[-1].body
    settings.VERIFIED_EMAIL = {"BASE_URL": "https://example.com", "RESEND_COOLDOWN": 0}
    request_change(client_for(user), "new@example.com", HTTP_HOST="evil.example.net")
    assert "evil.example.net" not in mailoutbox[-1].body


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


def test_the_old_address_link_goes_to_the_address_the_account_has_under_the_lock(user, mailoutbox):
    # The request's user was loaded before another request changed the
    # address: the first link must go to the account's address, not the
    # one it had when this request began.
    stale = reloaded(user)
    moved = reloaded(user)
    moved.email_address = "moved@example.com"
    moved.mark_email_verified()
    moved.save()

    change = flows.request_change(stale, "new@example.com", PASSWORD, base_url=BASE_URL)

    assert change.old_email == "moved@example.com"
    assert mailoutbox[-1].to == ["moved@example.com"]
