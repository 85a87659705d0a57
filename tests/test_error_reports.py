"""No live link in a 500's error report, on any view that builds one.

A link is signed while the message is built, after the flow's commit, in
frames the view's ``sensitive_variables`` must still cover. A mail backend
with a bug fails each send right after it saw the message; the report
Django's ``AdminEmailHandler`` (or an error tracker) would send must not
hold the link it saw.
"""

import logging

import pytest

from django_verified_email import flows
from tests.failing_mail import BROKEN, BrokenBackend, use_mail_backend
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    error_report,
    later,
    links_in,
    token_in,
    url,
)

pytestmark = pytest.mark.hardening


def change_pending(user, mailoutbox):
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    return token_in(mailoutbox[-1])


def html_verify_send(user, mailoutbox):
    return lambda c: c.post(url("verify-send"))


def html_change(user, mailoutbox):
    return lambda c: c.post(url("change"), {"new_email": "new@example.com", "password": PASSWORD})


def html_confirm_old(user, mailoutbox):
    token = change_pending(user, mailoutbox)
    return lambda c: c.post(f"/account/email/change/confirm/{token}/")


def html_resend(user, mailoutbox):
    change_pending(user, mailoutbox)
    return lambda c: c.post(url("change-resend"))


def html_expired_change_link(user, mailoutbox):
    token = change_pending(user, mailoutbox)

    def post(c):
        with later(86400 * 2):
            return c.post(f"/account/email/change/confirm/{token}/", {"resend": "1"})

    return post


def html_expired_verify_link(user, mailoutbox):
    flows.send_verification(user, base_url=BASE_URL)
    token = token_in(mailoutbox[-1])

    def post(c):
        with later(86400 * 2):
            return c.post(f"/account/email/verify/{token}/", {"resend": "1"})

    return post


SURFACES = {
    # (arrange, whether the account's address is verified)
    "html verify send": (html_verify_send, False),
    "html change request": (html_change, True),
    "html confirm old": (html_confirm_old, True),
    "html resend": (html_resend, True),
    "html expired change link": (html_expired_change_link, True),
    "html expired verify link": (html_expired_verify_link, False),
}


def assert_no_link_in_the_report(surfaces, surface, make_user, settings, mailoutbox, caplog):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    arrange, verified = surfaces[surface]
    user = make_user(verified=verified)
    act = arrange(user, mailoutbox)
    use_mail_backend(settings, BROKEN)
    BrokenBackend.seen.clear()
    caplog.set_level(logging.ERROR)
    browser = client_for(user)
    browser.raise_request_exception = False

    response = act(browser)

    assert response.status_code == 500
    tokens = [
        link.rstrip("/").rpartition("/")[2]
        for message in BrokenBackend.seen
        for link in links_in(message, ("verify", "change/confirm", "change/revert"))
    ]
    assert tokens, "the backend saw no link"
    text, html = error_report(caplog)
    assert "the mail backend has a bug" in text
    for token in tokens:
        assert token not in text
        assert token not in html


@pytest.mark.parametrize("surface", SURFACES)
def test_an_error_report_after_a_link_was_built_carries_no_link(
    surface, make_user, settings, mailoutbox, caplog
):
    assert_no_link_in_the_report(SURFACES, surface, make_user, settings, mailoutbox, caplog)


def test_a_tracker_recording_frame_locals_sees_no_link_and_no_code(user, mailoutbox, monkeypatch):
    # Sentry's default, like capture_locals, records every frame's variables
    # with repr(): those of delivery and of building the message too.
    import traceback

    from django_verified_email.rendering import TemplatedEmail

    seen = {}

    def fail_rendering(message):
        seen.update(message.context)
        raise RuntimeError("the template broke")

    monkeypatch.setattr(TemplatedEmail, "render", fail_rendering)
    with pytest.raises(Exception) as raised:
        flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)

    # Recorded first: this test's own frame is in the traceback too.
    report = "".join(
        traceback.TracebackException.from_exception(raised.value, capture_locals=True).format()
    )
    link, code = str(seen["link"]), str(seen["code"])
    assert link.startswith(BASE_URL) and len(code) >= 6
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert "the template broke" in report
    assert "_build" in report  # the frame that held them is in the report
    assert token not in report
    assert code not in report
