"""A second factor before a change, against real django-otp and allauth.mfa."""

import base64

import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.utils import encrypt
from django.test import Client, RequestFactory
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from django_verified_email.models import EmailChange, ReauthAttempts
from tests.helpers import PASSWORD, assert_error, call, code_in, request_change, url

pytestmark = pytest.mark.integrations

TOKEN = "rest_framework.authentication.TokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"
#: A base32 secret, as allauth.mfa stores one (encrypted).
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.VERIFIED_EMAIL = {
        "RESEND_COOLDOWN": 0,
        "REAUTH_MAX_ATTEMPTS": 3,
        "API_AUTHENTICATION_CLASSES": [SESSION, TOKEN],
    }


@pytest.fixture
def device(user):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def token_of(device):
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{value:0{device.digits}d}"


@pytest.fixture
def mfa_totp(user):
    return Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(SECRET)}
    )


def mfa_code():
    return f"{totp(base64.b32decode(SECRET)):06d}"


def token_client(user):
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def change(client, **body):
    return call(client, "change", {"new_email": "new@example.com", "password": PASSWORD, **body})


# django-otp


def test_otp_a_token_client_needs_the_devices_token(device, user, mailoutbox):
    client = token_client(user)

    assert_error(change(client), 403, "second_factor_required")
    assert not ReauthAttempts.objects.exists()

    response = change(client, otp=token_of(device))

    assert response.status_code == 202
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert not ReauthAttempts.objects.exists()


def test_otp_a_used_token_does_not_pass_twice(device, user, mailoutbox):
    client = token_client(user)
    used = token_of(device)
    assert change(client, otp=used).status_code == 202

    assert_error(change(client, otp=used), 400, "wrong_second_factor")
    assert ReauthAttempts.objects.get(user=user).count == 1


def test_otp_wrong_tokens_lock_the_account(device, user, mailoutbox):
    client = token_client(user)
    wrong = f"{(int(token_of(device)) + 1) % 1000000:06d}"
    assert_error(change(client, otp=wrong), 400, "wrong_second_factor")
    assert_error(change(client, otp=wrong), 400, "wrong_second_factor")

    assert_error(change(client, otp=wrong), 429, "locked_out")
    assert_error(change(client, otp=token_of(device)), 429, "locked_out")
    assert ReauthAttempts.objects.get(user=user).locked_until is not None
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_otp_an_unconfirmed_device_asks_nothing(user, mailoutbox):
    TOTPDevice.objects.create(user=user, name="half set up", confirmed=False)

    assert change(token_client(user)).status_code == 202


def test_otp_a_static_token_counts_as_the_second_factor(user, mailoutbox):
    static = StaticDevice.objects.create(user=user, name="codes", confirmed=True)
    StaticToken.objects.create(device=static, token="abcd1234")

    assert change(token_client(user), otp="abcd1234").status_code == 202


def test_otp_a_verified_session_passes(device, client, user, mailoutbox):
    client.force_login(user)
    assert client.get(url("change")).status_code == 403
    assert_error(change(client), 403, "second_factor_required")

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

    assert client.get(url("change")).status_code == 200
    assert request_change(client, "new@example.com").status_code == 302
    assert EmailChange.objects.get(user=user).new_email == "new@example.com"


def test_otp_the_page_says_there_is_no_page_to_pass_it(device, client, user, settings):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "SUPPORT_URL": "https://help.example"}
    client.force_login(user)

    response = client.get(url("change"))

    assert 'data-code="second_factor_required"' in response.text
    assert 'id="ve-reauthenticate"' not in response.text
    assert 'href="https://help.example"' in response.text


# allauth.mfa


def test_mfa_a_token_client_sends_its_totp_code(mfa_totp, user, mailoutbox):
    client = token_client(user)

    assert_error(change(client), 403, "second_factor_required")
    assert_error(
        change(client, otp=f"{(int(mfa_code()) + 1) % 1000000:06d}"),
        400,
        "wrong_second_factor",
    )
    assert ReauthAttempts.objects.get(user=user).count == 1

    assert change(client, otp=mfa_code()).status_code == 202
    assert EmailChange.objects.filter(user=user).count() == 1
    assert not ReauthAttempts.objects.exists()


def test_mfa_a_session_that_passed_mfa_passes(mfa_totp, client, user, mailoutbox):
    client.force_login(user)
    response = client.get(url("change"))
    assert response.status_code == 403
    # allauth has a page to pass it again, which comes back here.
    assert 'id="ve-reauthenticate"' in response.text
    assert "/accounts/2fa/reauthenticate/?next=" in response.text

    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    record_authentication(request, user, "mfa", id=mfa_totp.pk, type="totp")
    request.session.save()

    assert client.get(url("change")).status_code == 200
    assert change(client).status_code == 202
    assert len(mailoutbox) == 1


def test_mfa_a_recovery_code_does_not_pass_for_a_change(mfa_totp, user, mailoutbox):
    # A recovery code is for a lost device, not for moving the address that
    # would recover the account next.
    [code, *_] = RecoveryCodes.activate(user).get_unused_codes()

    assert_error(change(token_client(user), otp=code), 400, "wrong_second_factor")
    assert not EmailChange.objects.exists()
    assert ReauthAttempts.objects.get(user=user).count == 1


def test_otp_without_a_password_the_code_and_the_token_both_count(device, user, mailoutbox):
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client = token_client(user)
    assert call(client, "change-reauth-code").status_code == 202
    code = code_in(mailoutbox[-1])

    assert_error(change(client, password=None, code=code), 400, "invalid_request")
    body = {"new_email": "new@example.com", "code": code}
    assert_error(call(client, "change", body), 403, "second_factor_required")

    response = call(client, "change", {**body, "otp": token_of(device)})

    assert response.status_code == 202
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert not ReauthAttempts.objects.exists()


def test_otp_a_recovery_without_a_password_passes_with_the_token(device, user, mailoutbox):
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client = token_client(user)
    body = {"new_email": "new@example.com", "code": "", "old_email_lost": True}

    assert_error(call(client, "change", body), 400, "recovery_needs_password")
    response = call(client, "change", {**body, "otp": token_of(device)})

    assert response.status_code == 202
    change_row = EmailChange.objects.get(user=user)
    assert change_row.old_email_lost
    assert change_row.second_factor
