"""Bad input of every kind answers 400 with a code, never 500, and changes nothing."""

import json

import pytest
from django.test import Client

from django_verified_email.api.parsers import MAX_BODY_SIZE
from tests.helpers import PASSWORD, api_request_change, assert_error, call, snapshot, token_in

BODY_ENDPOINTS = [
    "verify-confirm",
    "change-confirm",
    "change",
    "change-deny",
    "change-revert",
    "change-set-password",
]

MALFORMED = {
    "truncated JSON": '{"token": "abc',
    "not JSON": "token=abc",
    "NaN": '{"token": NaN, "new_email": NaN, "password": NaN}',
    "trailing garbage": '{"token": "abc"} {}',
    "deep nesting": "[" * 20_000 + "]" * 20_000,
    "too large": json.dumps({"token": "a" * (2 * 1024 * 1024)}),
    "just over the limit": '{"padding": "' + "a" * MAX_BODY_SIZE + '"}',
    "empty body": "",
    "JSON array": "[]",
    "JSON string": '"token"',
    "JSON number": "1",
    "JSON null": "null",
    "object in array": json.dumps([{"token": "abc", "new_email": "a@b.c", "password": "x"}]),
    "lone surrogate": '{"token": "\\ud800", "new_email": "a@\\ud800.com", "password": "\\ud800"}',
    "NUL character": '{"token": "a\\u0000", "new_email": "a\\u0000@b.com", "password": "\\u0000"}',
}

WRONG_TYPES = [1, 1.5, True, None, [], ["a"], {}, {"a": "b"}]


@pytest.fixture
def world(make_user, client, mailoutbox, settings):
    """An unverified user with a live verify link, and one with an open change."""
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1}
    bob = make_user("bob", "bob@example.com", verified=False)
    bob_client = Client()
    bob_client.force_login(bob)
    call(bob_client, "verify-send")
    alice = make_user()
    client.force_login(alice)
    api_request_change(client, "alice.new@example.com")
    tokens = {"verify": token_in(mailoutbox[0]), "change": token_in(mailoutbox[1])}
    mailoutbox.clear()
    return {"client": client, "tokens": tokens}


def assert_nothing_changed(before, mailoutbox):
    assert snapshot() == before
    assert mailoutbox == []


def assert_links_still_work(world):
    anonymous = Client()
    response = call(anonymous, "verify-confirm", {"token": world["tokens"]["verify"]})
    assert response.status_code == 200
    response = call(anonymous, "change-confirm", {"token": world["tokens"]["change"]})
    assert response.status_code == 200


def client_for(endpoint, world):
    return world["client"] if endpoint == "change" else Client()


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_body(endpoint, body, world, mailoutbox):
    before = snapshot()

    response = call(client_for(endpoint, world), endpoint, body)

    assert_error(response, 400, "invalid_request")
    assert_nothing_changed(before, mailoutbox)


@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_body_that_is_not_json(endpoint, content_type, world, mailoutbox):
    before = snapshot()

    response = call(
        client_for(endpoint, world),
        endpoint,
        "token=abc&new_email=a%40example.com&password=x",
        content_type=content_type,
    )

    assert_error(response, 400, "invalid_request")
    assert_nothing_changed(before, mailoutbox)


def test_body_that_is_not_utf8(world, mailoutbox):
    before = snapshot()

    response = Client().post(
        "/api/account/email/verify/confirm/",
        b'{"token": "\xff\xfe"}',
        content_type="application/json; charset=utf-8",
    )

    assert_error(response, 400, "invalid_request")
    assert_nothing_changed(before, mailoutbox)


@pytest.mark.parametrize(
    "endpoint",
    ["verify-confirm", "change-confirm", "change-deny", "change-revert", "change-set-password"],
)
@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
def test_token_of_a_wrong_type(endpoint, value, world, mailoutbox):
    before = snapshot()

    body = {"token": value, "new_password": "a brand new passphrase 2026"}
    assert_error(call(Client(), endpoint, body), 400, "invalid_request")

    assert_nothing_changed(before, mailoutbox)


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        ("verify-confirm", "code"),
        ("change-confirm", "code"),
        ("change-set-password", "new_password"),
    ],
)
@pytest.mark.parametrize("value", WRONG_TYPES, ids=repr)
def test_code_or_new_password_of_a_wrong_type(endpoint, field, value, world, mailoutbox):
    before = snapshot()
    body = {field: value}
    if field == "new_password":
        body["token"] = world["tokens"]["change"]

    assert_error(call(world["client"], endpoint, body), 400, "invalid_request")

    assert_nothing_changed(before, mailoutbox)


@pytest.mark.parametrize("endpoint", ["verify-confirm", "change-confirm"])
def test_missing_token(endpoint, world, mailoutbox):
    before = snapshot()

    assert_error(call(Client(), endpoint, {"tokn": "typo"}), 400, "invalid_request")

    assert_nothing_changed(before, mailoutbox)


def tampered(token):
    # Change a character of the signature, keeping it valid base64.
    last = "A" if token[-1] != "A" else "B"
    return token[:-1] + last


BAD_TOKENS = {
    "empty": lambda tokens: "",
    "spaces": lambda tokens: "   ",
    "truncated verify": lambda tokens: tokens["verify"][:-5],
    "truncated change": lambda tokens: tokens["change"][:-5],
    "tampered verify": lambda tokens: tampered(tokens["verify"]),
    "tampered change": lambda tokens: tampered(tokens["change"]),
    "padded": lambda tokens: tokens["verify"] + " ",
    "10 kB": lambda tokens: "a" * 10_240,
    "10 kB of a real one": lambda tokens: (tokens["change"] * 200)[:10_240],
    "dots": lambda tokens: "....",
    "path characters": lambda tokens: "../../status/",
    "unicode": lambda tokens: "tōkén✓",
}


@pytest.mark.parametrize("endpoint", ["verify-confirm", "change-confirm"])
@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_bad_token(endpoint, make_token, world, mailoutbox):
    before = snapshot()

    response = call(Client(), endpoint, {"token": make_token(world["tokens"])})

    assert_error(response, 400, "invalid_token")
    assert_nothing_changed(before, mailoutbox)
    assert_links_still_work(world)


def test_a_token_of_the_other_kind_is_invalid(world, mailoutbox):
    before = snapshot()
    tokens = world["tokens"]

    assert_error(
        call(Client(), "verify-confirm", {"token": tokens["change"]}), 400, "invalid_token"
    )
    assert_error(
        call(Client(), "change-confirm", {"token": tokens["verify"]}), 400, "invalid_token"
    )

    assert_nothing_changed(before, mailoutbox)


CHANGE_BODIES = {
    "missing new_email": {"password": PASSWORD},
    "missing password": {"new_email": "carol@example.com"},
    "empty password": {"new_email": "carol@example.com", "password": ""},
    "both missing": {},
    **{f"new_email {value!r}": {"new_email": value, "password": PASSWORD} for value in WRONG_TYPES},
    **{
        f"password {value!r}": {"new_email": "carol@example.com", "password": value}
        for value in WRONG_TYPES
    },
}


@pytest.mark.parametrize("body", list(CHANGE_BODIES.values()), ids=list(CHANGE_BODIES))
def test_change_body_of_the_wrong_shape(body, world, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 1, "RESEND_COOLDOWN": 0}
    before = snapshot()

    assert_error(call(world["client"], "change", body), 400, "invalid_request")

    assert_nothing_changed(before, mailoutbox)
    # No password attempt was spent: with one allowed, the right password works.
    assert api_request_change(world["client"], "carol@example.com").status_code == 202


@pytest.mark.parametrize(
    "new_email",
    ["", " ", "carol", "carol@", "@example.com", "carol@@example.com", "a" * 10_240],
)
def test_change_to_a_string_that_is_no_address(new_email, world, mailoutbox):
    before = snapshot()

    response = api_request_change(world["client"], new_email)

    assert_error(response, 400, "invalid_email")
    assert_nothing_changed(before, mailoutbox)


def test_unknown_fields_are_ignored(world, mailoutbox):
    response = call(
        Client(), "verify-confirm", {"token": world["tokens"]["verify"], "is_staff": True}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "methods"),
    [
        ("status", ["post", "put", "patch", "delete", "options"]),
        ("verify-send", ["get", "put", "patch", "delete", "options"]),
        ("verify-confirm", ["get", "put", "patch", "delete", "options"]),
        ("change", ["get", "put", "patch", "delete", "options"]),
        ("change-confirm", ["get", "put", "patch", "delete", "options"]),
        ("change-resend", ["get", "put", "patch", "delete", "options"]),
        ("change-cancel", ["get", "put", "patch", "delete", "options"]),
    ],
)
def test_other_methods_are_not_allowed(endpoint, methods, world, mailoutbox):
    before = snapshot()
    for method in methods:
        response = call(world["client"], endpoint, {"token": "x"}, method=method)
        assert_error(response, 405, "method_not_allowed")
    assert_nothing_changed(before, mailoutbox)
