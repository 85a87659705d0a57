"""Bad input gives form errors or clean statuses, never a 500, and changes nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from django_verified_email import flows, is_email_verified
from django_verified_email.exceptions import InvalidEmail, WrongPassword
from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, email_of, url


@pytest.fixture
def nothing_changes(user, mailoutbox):
    """After the test: no change row, no email, the user as they were."""
    yield
    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    stored = get_user_model()._default_manager.get(pk=user.pk)
    assert email_of(stored) == "alice@example.com"
    assert is_email_verified(stored)


# Domain labels stay within 63 characters: only the total length is wrong.
LONG_DOMAIN = "b" * 60 + "." + "c" * 60 + "." + "d" * 55 + ".example.com"  # 189 characters
OVERLONG = "a" * 67 + "@" + LONG_DOMAIN  # 257 characters

BAD_ADDRESSES = {
    "empty": "",
    "spaces": "   ",
    "no at sign": "alice.example.com",
    "no domain": "alice@",
    "two at signs": "alice@@example.com",
    "overlong": OVERLONG,
    "header injection LF": "a@b.com\nBcc: x@y.com",
    "header injection CRLF": "a@b.com\r\nBcc: x@y.com",
    "header injection in the middle": "a@b.com\r\nTo: x@y.com\r\n",
    "two addresses": "a@b.com, x@y.com",
    "display name": "Mallory <x@y.com>",
    "null character": "a\x00@example.com",
}


@pytest.mark.parametrize("address", BAD_ADDRESSES.values(), ids=BAD_ADDRESSES.keys())
def test_bad_addresses_are_form_errors(logged_in, nothing_changes, address):
    response = logged_in.post(url("change"), {"new_email": address, "password": PASSWORD})

    assert response.status_code == 200
    assert 'name="new_email"' in response.text
    assert "errorlist" in response.text


def test_an_address_of_exactly_254_characters_is_accepted(logged_in, mailoutbox):
    address = "a" * 64 + "@" + LONG_DOMAIN
    assert len(address) == 254
    assert len(OVERLONG) == 257

    response = logged_in.post(url("change"), {"new_email": address, "password": PASSWORD})

    assert response.status_code == 302
    assert EmailChange.objects.get().new_email == address


MISSING = {
    "nothing": {},
    "no password": {"new_email": "new@example.com"},
    "no address": {"password": PASSWORD},
    "empty password": {"new_email": "new@example.com", "password": ""},
}


@pytest.mark.parametrize("data", MISSING.values(), ids=MISSING.keys())
def test_missing_fields_are_form_errors(logged_in, nothing_changes, data):
    response = logged_in.post(url("change"), data)

    assert response.status_code == 200
    assert "This field is required." in response.text


def test_an_overlong_password_is_a_form_error_and_costs_no_attempt(
    logged_in, nothing_changes, settings
):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1}
    data = {"new_email": "new@example.com", "password": "x" * 5000}

    assert logged_in.post(url("change"), data).status_code == 200
    # Had it counted, the next wrong password would not be the first.
    assert logged_in.post(url("change"), {**data, "password": "y"}).status_code == 429


def test_bytes_that_are_not_utf8_are_a_form_error(logged_in, nothing_changes):
    response = logged_in.generic(
        "POST",
        url("change"),
        b"new_email=a%ED%A0%80%FF@example.com&password=" + PASSWORD.replace(" ", "+").encode(),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert "errorlist" in response.text


def test_a_json_body_is_an_empty_form(logged_in, nothing_changes):
    response = logged_in.post(
        url("change"),
        {"new_email": "new@example.com", "password": PASSWORD},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert "This field is required." in response.text


def test_a_file_instead_of_an_address_is_a_form_error(logged_in, nothing_changes):
    upload = SimpleUploadedFile("evil.txt", b"new@example.com")

    response = logged_in.post(url("change"), {"new_email": upload, "password": PASSWORD})

    assert response.status_code == 200
    assert "This field is required." in response.text


def test_repeated_fields_take_one_value(logged_in, mailoutbox):
    response = logged_in.post(
        url("change"),
        {"new_email": ["first@example.com", "second@example.com"], "password": PASSWORD},
    )

    assert response.status_code == 302
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert EmailChange.objects.get().new_email == "second@example.com"


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_wrong_methods_on_the_change_form(logged_in, nothing_changes, method):
    assert getattr(logged_in, method)(url("change")).status_code == 405


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("status", "post"),
        ("status", "delete"),
        ("verify-send", "get"),
        ("verify-send", "put"),
        ("change-resend", "get"),
        ("change-cancel", "get"),
        ("change-cancel", "delete"),
    ],
)
def test_wrong_methods_elsewhere(logged_in, nothing_changes, name, method):
    assert getattr(logged_in, method)(url(name)).status_code == 405


@pytest.mark.parametrize(
    "value",
    [None, 12, 3.5, ["new@example.com"], {"email": "new@example.com"}, b"new@example.com"],
)
def test_flows_refuse_non_string_addresses(user, nothing_changes, value):
    with pytest.raises(InvalidEmail):
        flows.request_change(user, value, PASSWORD, base_url="http://testserver")


@pytest.mark.parametrize("value", [None, 12, ["x"], b"correct horse battery staple"])
def test_flows_refuse_non_string_passwords(user, nothing_changes, value):
    with pytest.raises(WrongPassword):
        flows.request_change(user, "new@example.com", value, base_url="http://testserver")


@pytest.mark.parametrize(
    "address",
    [*BAD_ADDRESSES.values(), "a\ud800@example.com"],
    ids=[*BAD_ADDRESSES.keys(), "lone surrogate"],
)
def test_flows_refuse_bad_addresses(user, nothing_changes, address):
    with pytest.raises(InvalidEmail):
        flows.request_change(user, address, PASSWORD, base_url="http://testserver")


def test_a_token_in_the_query_string_is_ignored(client, db):
    response = client.post(url("change-confirm", token="x") + "?token=" + "A" * 5000)

    assert response.status_code == 400
