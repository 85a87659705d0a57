"""One-time links: what makes a link work, expire (410) or stop working (400)."""

import pytest
from django.test import Client
from itsdangerous.encoding import base64_decode

from django_verified_email import flows, is_email_verified
from django_verified_email.exceptions import InvalidToken
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    email_of,
    later,
    link_path,
    no_cooldown,
    request_change,
    send_verification,
    token_of,
    url,
)

DAY = 86400


@pytest.fixture
def unverified(make_user):
    return make_user(username="bob", email="bob@example.com", verified=False)


@pytest.fixture
def bob_client(unverified):
    bob_client = Client()
    bob_client.force_login(unverified)
    return bob_client


@pytest.fixture
def verify_link(bob_client, mailoutbox):
    """The path of a fresh verification link for bob, who is not verified yet."""
    assert send_verification(bob_client).status_code == 302
    return link_path(mailoutbox[-1], to="bob@example.com")


@pytest.fixture
def old_link(logged_in, mailoutbox):
    """The path of the link a dual-link change sent to the old address."""
    assert request_change(logged_in, "new@example.com").status_code == 302
    return link_path(mailoutbox[-1], to="alice@example.com")


def test_verification_link_round_trip(verify_link, unverified):
    anonymous = Client()

    assert anonymous.get(verify_link).status_code == 200
    response = anonymous.post(verify_link)

    assert response.status_code == 302
    unverified.refresh_from_db()
    assert is_email_verified(unverified)


def test_change_link_round_trip(old_link, mailoutbox):
    response = Client().post(old_link)

    assert response.status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"
    assert mailoutbox[-1].to == ["new@example.com"]


def tampered(token):
    payload, timestamp, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{payload}.{timestamp}.{flipped}{signature[1:]}"


URLSAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respelt(token):
    """The same signature bytes, spelt with other unused bits in its last character."""
    last = URLSAFE_ALPHABET.index(token[-1])
    other = token[:-1] + URLSAFE_ALPHABET[last ^ 1]
    signature, other_signature = token.rsplit(".", 1)[1], other.rsplit(".", 1)[1]
    assert base64_decode(signature) == base64_decode(other_signature)
    return other


BAD_TOKENS = {
    "tampered": lambda token: tampered(token),
    "signature respelt": lambda token: respelt(token),
    "truncated": lambda token: token[:-6],
    "payload swapped": lambda token: "eyJ1IjoxLCJmIjoiMCJ9" + token[token.index(".") :],
    "junk": lambda token: "not-a-token",
    "dots only": lambda token: "..",
    "10 kB long": lambda token: "A" * 10240,
    "10 kB long, signed prefix": lambda token: token + "A" * 10240,
}


@pytest.mark.parametrize("spoil", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
@pytest.mark.parametrize("method", ["get", "post"])
def test_spoilt_verification_link_is_invalid(verify_link, unverified, spoil, method):
    token = spoil(token_of(verify_link))

    response = getattr(Client(), method)(url("verify-confirm", token=token))

    assert response.status_code == 400
    unverified.refresh_from_db()
    assert not is_email_verified(unverified)


@pytest.mark.parametrize("spoil", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
@pytest.mark.parametrize("method", ["get", "post"])
def test_spoilt_change_link_is_invalid(old_link, user, spoil, method, mailoutbox):
    token = spoil(token_of(old_link))
    sent = len(mailoutbox)

    response = getattr(Client(), method)(url("change-confirm", token=token))

    assert response.status_code == 400
    assert EmailChange.objects.get().status == "awaiting_old"
    assert len(mailoutbox) == sent


def test_empty_token_is_invalid_not_an_error(db):
    # An empty path segment does not match the URL at all; the flow refuses it too.
    assert Client().get("/account/email/verify//").status_code == 404
    assert Client().post("/account/email/change/confirm//").status_code == 404
    with pytest.raises(InvalidToken):
        flows.check_verification("")
    with pytest.raises(InvalidToken):
        flows.confirm_change("")


@pytest.mark.parametrize("value", [None, 12, ["a"], {"token": "x"}, b"bytes"])
def test_non_string_tokens_are_invalid(db, value):
    with pytest.raises(InvalidToken):
        flows.confirm_verification(value)
    with pytest.raises(InvalidToken):
        flows.confirm_change(value)


def test_a_link_of_one_flow_does_not_work_in_the_other(verify_link, old_link):
    assert Client().get(url("change-confirm", token=token_of(verify_link))).status_code == 400
    assert Client().get(url("verify-confirm", token=token_of(old_link))).status_code == 400


def test_key_rotation_keeps_links_alive(verify_link, unverified, settings):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-next-key-for-tests-only"

    response = Client().post(verify_link)

    assert response.status_code == 302
    unverified.refresh_from_db()
    assert is_email_verified(unverified)


def test_key_rotation_keeps_change_links_alive(old_link, settings):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-next-key-for-tests-only"

    assert Client().post(old_link).status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"


def test_link_signed_with_an_unknown_key_is_invalid(verify_link, old_link, unverified, settings):
    settings.SECRET_KEY = "a-key-that-never-signed-these"
    settings.SECRET_KEY_FALLBACKS = []

    assert Client().post(verify_link).status_code == 400
    assert Client().post(old_link).status_code == 400
    unverified.refresh_from_db()
    assert not is_email_verified(unverified)


def test_links_work_until_link_max_age(verify_link, old_link):
    with later(DAY - 5):
        assert Client().get(verify_link).status_code == 200
        assert Client().get(old_link).status_code == 200


@pytest.mark.parametrize("ahead", [1, 30, 60])
def test_a_link_signed_by_a_clock_slightly_ahead_works_at_once(unverified, mailoutbox, ahead):
    # A worker or another web server whose clock runs a little fast signs the
    # link; itsdangerous alone would call it expired (410) on arrival.
    with later(ahead):
        flows.send_verification(unverified, base_url="http://testserver")
    path = link_path(mailoutbox[-1])

    assert Client().get(path).status_code == 200
    assert Client().post(path).status_code == 302
    unverified.refresh_from_db()
    assert is_email_verified(unverified)


def test_a_link_signed_far_in_the_future_is_not_taken(unverified, mailoutbox):
    with later(600):
        flows.send_verification(unverified, base_url="http://testserver")

    assert Client().get(link_path(mailoutbox[-1])).status_code == 410


def browser_like(user):
    """A client that, like Chromium on a no-referrer page, posts with Origin: null."""
    client = Client(enforce_csrf_checks=True, HTTP_ORIGIN="null")
    client.force_login(user)
    return client


def test_expired_verification_link_offers_a_new_one_to_the_logged_in_user(
    verify_link, unverified, mailoutbox
):
    browser = browser_like(unverified)
    with later(DAY + 1):
        response = browser.post(verify_link)

        assert response.status_code == 410
        # The button posts back to the link itself, the one URL that takes it.
        assert 'action=""' in response.text and 'name="resend"' in response.text
        resent = browser.post(verify_link, {"resend": "1"})

        assert resent.status_code == 302
        fresh = link_path(mailoutbox[-1], to="bob@example.com")
        assert fresh != verify_link
        assert Client().post(fresh).status_code == 302
    unverified.refresh_from_db()
    assert is_email_verified(unverified)


def test_only_the_links_owner_can_swap_it_for_a_new_one(verify_link, user, mailoutbox):
    sent = len(mailoutbox)
    with later(DAY + 1):
        response = browser_like(user).post(verify_link, {"resend": "1"})

    assert response.status_code == 400
    assert len(mailoutbox) == sent


def test_a_new_link_needs_a_login(verify_link, mailoutbox):
    sent = len(mailoutbox)
    with later(DAY + 1):
        response = Client().post(verify_link, {"resend": "1"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "verify" not in response["Location"]  # the token does not travel on
    assert len(mailoutbox) == sent


def test_expired_link_points_an_anonymous_visitor_to_log_in(verify_link, old_link):
    with later(DAY + 1):
        responses = [Client().get(verify_link), Client().post(old_link)]

    for response in responses:
        assert response.status_code == 410
        assert 'href="/accounts/login/"' in response.text
        assert "<form" not in response.text


def test_expired_change_link_offers_a_resend_that_works(old_link, user, mailoutbox):
    browser = browser_like(user)
    with later(DAY + 1):
        expired = browser.get(old_link)
        assert expired.status_code == 410
        assert 'name="resend"' in expired.text

        assert browser.post(old_link, {"resend": "1"}).status_code == 302
        fresh = link_path(mailoutbox[-1], to="alice@example.com")
        assert browser.post(fresh).status_code == 200

    assert EmailChange.objects.get().status == "awaiting_new"


def test_setting_link_max_age_shortens_links(verify_link, settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 600}

    with later(601):
        assert Client().get(verify_link).status_code == 410


def test_an_expired_link_that_was_also_used_is_invalid(verify_link):
    assert Client().post(verify_link).status_code == 302

    with later(DAY + 1):
        assert Client().get(verify_link).status_code == 400


def test_used_links_are_invalid(verify_link, old_link, mailoutbox):
    assert Client().post(verify_link).status_code == 302
    assert Client().post(old_link).status_code == 200
    new_link = link_path(mailoutbox[-1], to="new@example.com")
    assert Client().post(new_link).status_code == 302

    for link in (verify_link, old_link, new_link):
        assert Client().get(link).status_code == 400
        assert Client().post(link).status_code == 400


def test_superseded_change_links_are_invalid(old_link, logged_in, settings, mailoutbox, user):
    no_cooldown(settings)
    assert request_change(logged_in, "other@example.com").status_code == 302
    newest = link_path(mailoutbox[-1], to="alice@example.com")

    assert Client().post(old_link).status_code == 400
    assert Client().post(newest).status_code == 200
    assert EmailChange.objects.get(status="awaiting_new").new_email == "other@example.com"


def test_cancelled_change_links_are_invalid(old_link, logged_in):
    assert logged_in.post(url("change-cancel")).status_code == 302

    assert Client().post(old_link).status_code == 400
    assert EmailChange.objects.get().status == "cancelled"


def test_links_die_when_the_password_changes(
    verify_link, unverified, bob_client, mailoutbox, settings
):
    no_cooldown(settings)
    # bob is not verified: the change sends one link, to the new address.
    request_change(bob_client, "new@example.com")
    change_link = link_path(mailoutbox[-1], to="new@example.com")

    unverified.set_password("a brand new password")
    unverified.save()

    assert Client().post(verify_link).status_code == 400
    assert Client().post(change_link).status_code == 400
    unverified.refresh_from_db()
    assert not is_email_verified(unverified)
    assert email_of(unverified) == "bob@example.com"


def test_links_die_when_the_address_changes_outside_the_app(
    verify_link, unverified, bob_client, mailoutbox, settings, django_user_model
):
    no_cooldown(settings)
    request_change(bob_client, "new@example.com")
    change_link = link_path(mailoutbox[-1], to="new@example.com")

    # As the admin does: load, set the field, save.
    edited = django_user_model.objects.get(pk=unverified.pk)
    edited.email_address = "admin-set@example.com"
    edited.save()

    assert Client().post(verify_link).status_code == 400
    assert Client().post(change_link).status_code == 400
    edited.refresh_from_db()
    assert email_of(edited) == "admin-set@example.com"
    assert not is_email_verified(edited)


def test_a_change_link_dies_when_the_address_changes_outside_the_app(
    old_link, user, django_user_model
):
    edited = django_user_model.objects.get(pk=user.pk)
    edited.email_address = "admin-set@example.com"
    edited.save()

    assert Client().post(old_link).status_code == 400


def test_resend_kills_the_older_link_of_that_step(old_link, logged_in, settings, mailoutbox):
    no_cooldown(settings)
    assert logged_in.post(url("change-resend")).status_code == 302
    resent = link_path(mailoutbox[-1], to="alice@example.com")
    assert resent != old_link

    assert Client().post(old_link).status_code == 400
    assert Client().post(resent).status_code == 200
    first_new = link_path(mailoutbox[-1], to="new@example.com")

    assert logged_in.post(url("change-resend")).status_code == 302
    second_new = link_path(mailoutbox[-1], to="new@example.com")

    assert Client().post(first_new).status_code == 400
    assert Client().post(second_new).status_code == 302
    assert EmailChange.objects.get().status == "completed"


def test_inactive_users_links_are_refused(verify_link, unverified, old_link, user):
    for account in (unverified, user):
        account.is_active = False
        account.save()

    for link in (verify_link, old_link):
        assert Client().get(link).status_code == 400
        assert Client().post(link).status_code == 400
    unverified.refresh_from_db()
    assert not is_email_verified(unverified)
    assert EmailChange.objects.get().status == "awaiting_old"


def test_wrong_password_leaves_existing_links_alone(old_link, logged_in):
    assert request_change(logged_in, "x@example.com", password="nope").status_code == 200

    assert Client().post(old_link).status_code == 200


def test_logging_in_does_not_spoil_links(verify_link, unverified):
    assert Client().login(username="bob", password=PASSWORD)

    assert Client().post(verify_link).status_code == 302
