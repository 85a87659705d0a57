"""The verify flow, through the HTML pages."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_verified_email import flows, is_email_verified, signals
from tests.helpers import (
    email_of,
    link_in,
    link_path,
    reloaded,
    send_verification,
    url,
    verified_at,
)

from .failing_mail import REFUSING, UNREACHABLE, use_mail_backend

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows


@pytest.fixture
def unverified(make_user):
    return make_user(verified=False)


@pytest.fixture
def client_of(unverified):
    client = Client()
    client.force_login(unverified)
    return client


@pytest.fixture
def link(client_of, mailoutbox):
    assert send_verification(client_of).status_code == 302
    return link_path(mailoutbox[-1], to="alice@example.com")


def test_send_mails_one_link_to_the_current_address(client_of, unverified, mailoutbox):
    response = send_verification(client_of)

    assert response.status_code == 302
    assert response["Location"] == url("status")
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert message.from_email == "accounts@example.com"
    assert link_path(message).startswith("/account/email/verify/")
    assert not is_email_verified(reloaded(unverified))


def test_get_shows_a_confirm_page_and_changes_nothing(link, unverified):
    # Mail scanners open links: that must not verify anything.
    for _ in range(2):
        response = Client().get(link)
        assert response.status_code == 200
        assert "alice@example.com" in response.text
        assert '<form method="post">' in response.text
    assert Client().head(link).status_code == 200

    assert not is_email_verified(reloaded(unverified))


def test_post_verifies_the_address(link, unverified):
    before = timezone.now()

    response = Client().post(link)

    assert response.status_code == 302
    assert response["Location"] == url("status")
    stored = reloaded(unverified)
    assert is_email_verified(stored)
    assert verified_at(stored) >= before
    assert email_of(stored) == "alice@example.com"


def test_success_url_setting_is_where_the_flow_ends(link, settings):
    settings.VERIFIED_EMAIL = {"SUCCESS_URL": "/welcome/"}

    response = Client().post(link)

    assert response.status_code == 302
    assert response["Location"] == "/welcome/"


def test_the_status_page_shows_verified_or_not(client_of, unverified, link):
    before = client_of.get(url("status"))
    assert "not verified" in before.text
    assert f'action="{url("verify-send")}"' in before.text

    client_of.post(link)

    after = client_of.get(url("status"))
    assert after.status_code == 200
    assert "alice@example.com" in after.text
    assert "not verified" not in after.text
    assert f'action="{url("verify-send")}"' not in after.text


def test_already_verified_is_refused(logged_in, mailoutbox):
    response = send_verification(logged_in)

    assert response.status_code == 409
    assert 'data-code="already_verified"' in response.text
    assert mailoutbox == []


def test_no_address_is_refused(make_user, mailoutbox):
    client = Client()
    client.force_login(make_user(email="", verified=False))

    response = send_verification(client)

    assert response.status_code == 409
    assert 'data-code="no_email"' in response.text
    assert mailoutbox == []


def test_cooldown_between_two_sends(client_of, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 120}
    send_verification(client_of)

    response = send_verification(client_of)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 120
    assert len(mailoutbox) == 1

    with time_machine.travel(timezone.now() + timedelta(seconds=121), tick=False):
        assert send_verification(client_of).status_code == 302
    assert len(mailoutbox) == 2


def test_a_resent_link_works(client_of, unverified, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    send_verification(client_of)
    send_verification(client_of)

    assert Client().post(link_path(mailoutbox[-1])).status_code == 302
    assert is_email_verified(reloaded(unverified))


def test_only_post_sends_and_only_logged_in(client_of, mailoutbox):
    assert client_of.get(url("verify-send")).status_code == 405
    anonymous = Client().post(url("verify-send"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert mailoutbox == []


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_on_the_link_are_refused(link, unverified, method):
    response = getattr(Client(), method)(link)

    assert response.status_code == 405
    assert response["Referrer-Policy"] == "no-referrer"
    assert not is_email_verified(reloaded(unverified))


def token_responses(link):
    """A response of each kind a token URL gives."""
    spoilt = link[:-8] + "/"
    return {
        "get": Client().get(link),
        "head": Client().head(link),
        "invalid get": Client().get(spoilt),
        "invalid post": Client().post(spoilt),
        "post": Client().post(link),
        "used": Client().post(link),
        "wrong method": Client().put(link),
    }


def test_every_token_url_response_is_private_and_sends_no_referrer(link):
    responses = token_responses(link)
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        responses["expired"] = Client().get(link)

    assert {name: response.status_code for name, response in responses.items()} == {
        "get": 200,
        "head": 200,
        "invalid get": 400,
        "invalid post": 400,
        "post": 302,
        "used": 400,
        "wrong method": 405,
        "expired": 400,
    }
    for name, response in responses.items():
        assert response["Referrer-Policy"] == "no-referrer", name
        assert "no-store" in response["Cache-Control"], name


def test_an_expired_link_page_is_private_too(client_of, mailoutbox):
    send_verification(client_of)
    link = link_path(mailoutbox[-1])

    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        response = client_of.get(link)

    assert response.status_code == 410
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]


OTHER_ORIGIN = re.compile(r"""(?:src|href|action|content)\s*=\s*["']?\s*(?:[a-z]+:)?//""", re.I)


def test_token_pages_load_nothing_from_another_origin(link, client_of):
    pages = [Client().get(link), client_of.get(link), Client().get(link[:-8] + "/")]
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        pages += [Client().get(link), client_of.get(link)]
    pages.append(client_of.post(link, follow=True))

    for page in pages:
        assert page.text, page.status_code
        assert not OTHER_ORIGIN.search(page.text), page.text
        assert "@import" not in page.text
        assert "url(" not in page.text


@pytest.mark.django_db(transaction=True)
def test_signals_fire_after_commit_with_their_arguments(make_user, django_user_model):
    user = make_user(verified=False)
    client = Client()
    client.force_login(user)
    heard = []

    def listen(signal_name):
        def receiver(sender, **kwargs):
            heard.append(
                (signal_name, sender, kwargs, connection.in_atomic_block, reloaded(kwargs["user"]))
            )

        return receiver

    sent_receiver = listen("verification_sent")
    verified_receiver = listen("email_verified")
    signals.verification_sent.connect(sent_receiver)
    signals.email_verified.connect(verified_receiver)
    try:
        from django.core import mail

        send_verification(client)
        Client().post(link_path(mail.outbox[-1]))
    finally:
        signals.verification_sent.disconnect(sent_receiver)
        signals.email_verified.disconnect(verified_receiver)

    assert [name for name, *_ in heard] == ["verification_sent", "email_verified"]
    for name, sender, kwargs, in_transaction, stored in heard:
        assert sender is django_user_model, name
        assert kwargs["user"].pk == user.pk, name
        assert kwargs["email"] == "alice@example.com", name
        assert not in_transaction, name
    # What the receiver of email_verified reads is already stored.
    assert is_email_verified(heard[1][4])


def test_no_signal_when_nothing_happens(link, make_user):
    verified = Client()
    verified.force_login(make_user(username="bob", email="bob@example.com"))
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs)

    signals.email_verified.connect(receiver)
    signals.verification_sent.connect(receiver)
    try:
        Client().get(link)
        Client().post(link[:-8] + "/")
        send_verification(verified)  # already verified
    finally:
        signals.email_verified.disconnect(receiver)
        signals.verification_sent.disconnect(receiver)

    assert heard == []


@pytest.mark.parametrize("backend", [REFUSING, UNREACHABLE])
def test_a_failed_send_answers_503_and_can_be_retried_at_once(
    client_of, unverified, settings, mailoutbox, backend
):
    heard = []
    signals.verification_sent.connect(receiver := lambda sender, **kwargs: heard.append(kwargs))
    use_mail_backend(settings, backend)
    try:
        failed = send_verification(client_of)
    finally:
        signals.verification_sent.disconnect(receiver)

    assert failed.status_code == 503
    assert 'data-code="delivery_failed"' in failed.text
    assert mailoutbox == []
    assert heard == []

    # The cooldown was handed back: a retry goes out at once and its link works.
    use_mail_backend(settings, "django.core.mail.backends.locmem.EmailBackend")
    assert send_verification(client_of).status_code == 302
    assert Client().post(link_path(mailoutbox[-1])).status_code == 302
    assert is_email_verified(reloaded(unverified))


def test_base_url_setting_is_used_for_links(client_of, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"BASE_URL": "https://accounts.example.org"}

    send_verification(client_of)

    [message] = mailoutbox
    assert "https://accounts.example.org/account/email/verify/" in message.body
    assert "http://testserver" not in message.body + html_of(message)


def test_the_request_host_is_used_without_base_url(client_of, mailoutbox):
    send_verification(client_of, HTTP_HOST="example.com", secure=True)

    assert "https://example.com/account/email/verify/" in mailoutbox[-1].body


def test_a_host_not_in_allowed_hosts_gets_400_and_no_email(client_of, unverified, mailoutbox):
    response = send_verification(client_of, HTTP_HOST="evil.example.net")

    assert response.status_code == 400
    assert mailoutbox == []
    # Nothing was claimed either: a send from the real host goes out.
    assert send_verification(client_of).status_code == 302


def html_of(message):
    [(content, _mimetype)] = message.alternatives
    return content


def test_flows_send_verification_from_host_code_with_base_url_setting(
    unverified, mailoutbox, settings
):
    # A host's signup code calls the flow directly, with no request at hand.
    settings.VERIFIED_EMAIL = {"BASE_URL": "https://accounts.example.org"}

    flows.send_verification(unverified)

    [message] = mailoutbox
    assert link_in(message).startswith("https://accounts.example.org/account/email/verify/")
    assert Client().post(link_path(message)).status_code == 302


def test_flows_without_any_host_say_so_and_keep_nothing(unverified, mailoutbox):
    with pytest.raises(ImproperlyConfigured, match="BASE_URL"):
        flows.send_verification(unverified)

    assert mailoutbox == []
    # The send was handed back: the next one, with a host, goes out at once.
    flows.send_verification(unverified, base_url="https://example.com")
    assert len(mailoutbox) == 1


def test_a_suspicious_request_to_a_link_answers_400_privately(link, unverified, settings, caplog):
    # Django's own 400 (here a body over DATA_UPLOAD_MAX_MEMORY_SIZE), made
    # by the page itself, so it keeps the token page's headers.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = Client().post(link, {"padding": "x" * 100})

    assert response.status_code == 400
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert not is_email_verified(reloaded(unverified))
    assert any(record.name == "django.security.RequestDataTooBig" for record in caplog.records)
