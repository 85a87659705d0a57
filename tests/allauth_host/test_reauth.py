"""Re-authentication before a change in the allauth host: allauth.mfa as the second
factor, and allauth's ``ACCOUNT_REAUTHENTICATION_METHODS`` for users without a password."""

import base64
import hashlib
import hmac
import struct
import time

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from django_verified_email import flows
from django_verified_email.exceptions import SecondFactorRequired
from django_verified_email.models import EmailChange, ReauthAttempts
from django_verified_email.second_factor import Proof
from tests.helpers import BASE_URL, PASSWORD, assert_error, call, code_in, url

#: A base32 secret, as allauth.mfa stores one (encrypted).
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW = "alice.new@example.com"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "REAUTH_MAX_ATTEMPTS": 3}


@pytest.fixture
def alice(make_user):
    user = make_user()
    EmailAddress.objects.update_or_create(
        user=user, email=user.email_address, defaults={"primary": True, "verified": True}
    )
    return user


@pytest.fixture
def social(alice):
    """alice signed up through a provider: no usable password."""
    alice.set_unusable_password()
    alice.save(update_fields=["password"])
    return alice


def with_totp(user):
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(SECRET)}
    )


def right_code():
    """The TOTP code of now (RFC 6238: 30-second steps, SHA-1, six digits)."""
    digest = hmac.digest(
        base64.b32decode(SECRET), struct.pack(">Q", int(time.time()) // 30), hashlib.sha1
    )
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1000000:06d}"


def wrong_code():
    return f"{(int(right_code()) + 1) % 1000000:06d}"


def change(client, **body):
    return call(client, "change", {"new_email": NEW, **body})


def attempts(user):
    row = ReauthAttempts.objects.filter(user=user).first()
    return row.count if row else 0


# allauth.mfa is a second factor ---------------------------------------------------------


def test_a_totp_authenticator_must_be_passed_before_a_change(client, alice, mailoutbox):
    with_totp(alice)
    client.force_login(alice)

    # The page says so before the form: allauth's page passes it again.
    page = client.get(url("change"))
    assert page.status_code == 403
    assert "/accounts/2fa/reauthenticate/?next=" in page.text

    # The API without the code: refused, nothing checked, nothing counted.
    assert_error(change(client, password=PASSWORD), 403, "second_factor_required")
    assert attempts(alice) == 0
    # A wrong code: refused and counted as a failed re-authentication.
    assert_error(change(client, password=PASSWORD, otp=wrong_code()), 400, "wrong_second_factor")
    assert attempts(alice) == 1
    assert not EmailChange.objects.exists()

    # The right code: the change starts, and the count is forgotten.
    assert change(client, password=PASSWORD, otp=right_code()).status_code == 202
    assert EmailChange.objects.get(user=alice).status == "awaiting_old"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert attempts(alice) == 0


def test_a_user_without_an_authenticator_needs_the_password_only(client, alice, mailoutbox):
    client.force_login(alice)

    assert client.get(url("change")).status_code == 200
    assert change(client, password=PASSWORD).status_code == 202


# ACCOUNT_REAUTHENTICATION_METHODS, for a user without a password ------------------------


def test_with_allauths_defaults_the_code_by_email_stands_in(client, social, mailoutbox):
    client.force_login(social)
    assert flows.reauthentication(social) == "code"
    assert call(client, "change-reauth-code").status_code == 202

    response = change(client, code=code_in(mailoutbox[-1]))

    assert response.status_code == 202, response.content


def test_without_code_the_totp_alone_stands_in(client, social, settings, mailoutbox):
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["password", "mfa"]
    with_totp(social)
    client.force_login(social)

    assert call(client, "status", method="get").json()["reauthentication"] == "second_factor"
    # No code is sent: allauth allows none.
    refused = assert_error(call(client, "change-reauth-code"), 403, "reauthentication_unavailable")
    assert "authenticator app" in refused["detail"]
    assert mailoutbox == []
    # The page asks for the authenticator's code, not a password; not the
    # "pass your second factor" page: the code is the re-authentication.
    page = client.get(url("change"))
    assert page.status_code == 200
    assert 'name="otp"' in page.text
    assert 'name="password"' not in page.text

    # Neither a password, a code nor the authenticator's code: a bad request.
    assert_error(change(client), 400, "invalid_request")
    assert attempts(social) == 0
    assert_error(change(client, otp=wrong_code()), 400, "wrong_second_factor")
    assert attempts(social) == 1

    response = client.post(url("change"), {"new_email": NEW, "otp": right_code()})

    assert response.status_code == 302, response.content
    assert EmailChange.objects.get(user=social).status == "awaiting_old"
    assert attempts(social) == 0


def test_a_session_that_passed_mfa_is_no_reauthentication_without_a_password(social, settings):
    # The session's MFA login stood beside a password, never in its place.
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["mfa"]
    authenticator = with_totp(social)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = social
    request.session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "mfa", "at": time.time(), "id": authenticator.pk, "type": "totp"}
    ]

    with pytest.raises(SecondFactorRequired):
        flows.request_change(
            social, NEW, None, base_url=BASE_URL, second_factor_proof=Proof(request=request)
        )
    assert attempts(social) == 0
    assert not EmailChange.objects.exists()


@pytest.mark.parametrize(
    "methods",
    [["password"], ["password", "mfa"]],
    ids=["password-only", "mfa-but-no-authenticator"],
)
def test_a_user_with_no_allowed_way_is_refused_clearly(client, social, settings, methods):
    settings.ACCOUNT_REAUTHENTICATION_METHODS = methods
    client.force_login(social)

    assert call(client, "status", method="get").json()["reauthentication"] == "none"
    page = client.get(url("change"))
    assert page.status_code == 403
    assert "no other way to confirm" in page.text
    assert client.post(url("change"), {"new_email": NEW}).status_code == 403
    assert_error(change(client, code="123456"), 403, "reauthentication_unavailable")
    assert_error(change(client, otp="123456"), 403, "reauthentication_unavailable")
    assert attempts(social) == 0
    assert not EmailChange.objects.exists()


def test_a_webauthn_only_user_without_a_password_is_refused_clearly(client, social, settings):
    # A security key has no code to type here: no way in, said so.
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["mfa"]
    Authenticator.objects.create(user=social, type=Authenticator.Type.WEBAUTHN, data={})
    client.force_login(social)

    assert_error(change(client, otp="123456"), 403, "reauthentication_unavailable")


def test_socialaccount_only_sends_no_code(client, social, settings, mailoutbox):
    settings.SOCIALACCOUNT_ONLY = True
    client.force_login(social)

    assert flows.reauthentication(social) == "none"
    assert_error(call(client, "change-reauth-code"), 403, "reauthentication_unavailable")
    assert mailoutbox == []


def test_a_user_with_a_password_types_it_whatever_allauth_allows(client, alice, settings):
    settings.ACCOUNT_REAUTHENTICATION_METHODS = ["mfa"]
    client.force_login(alice)

    assert flows.reauthentication(alice) == "password"
    assert change(client, password=PASSWORD).status_code == 202
