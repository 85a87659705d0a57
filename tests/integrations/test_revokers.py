"""Every built-in revoker against its real package, through a real take-back."""

from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.authtoken.models import Token
from rest_framework_simplejwt.tokens import RefreshToken

from django_verified_email import revokers
from django_verified_email.checks import check_jwt_blacklist
from tests.helpers import PASSWORD, call, code_in
from tests.integrations.models import PaperDevice
from tests.takeback import FLOWS, TAKER, owner_notice, take_back

pytestmark = pytest.mark.integrations

KNOX = "knox.auth.TokenAuthentication"
JWT = "rest_framework_simplejwt.authentication.JWTAuthentication"
DRF = "rest_framework.authentication.TokenAuthentication"
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "API_AUTHENTICATION_CLASSES": [KNOX, JWT, DRF]}


def status_with(header):
    return call(Client(HTTP_AUTHORIZATION=header), "status", method="get").status_code


def refresh(token):
    return Client().post(
        reverse("token-refresh"), {"refresh": str(token)}, content_type="application/json"
    )


def created(device, when):
    """Back-date a device: the packages stamp the creation time themselves."""
    type(device)._default_manager.filter(pk=device.pk).update(created_at=when)
    return device


def test_the_defaults_are_every_built_in():
    assert set(revokers.paths()) == set(revokers.BUILT_IN)


def test_no_warning_with_the_jwt_blacklist_installed():
    assert check_jwt_blacklist() == []


@pytest.mark.parametrize("flow", FLOWS)
def test_a_take_back_ends_every_token_of_the_taker(flow, user, mailoutbox):
    held = {}

    def hand_out():
        held["drf"] = Token.objects.create(user=user).key
        held["knox"] = AuthToken.objects.create(user=user)[1]
        held["jwt"] = RefreshToken.for_user(user)
        assert status_with(f"Token {held['drf']}") == 200
        assert status_with(f"Knox {held['knox']}") == 200
        assert refresh(held["jwt"]).status_code == 200

    take_back(flow, user, mailoutbox, before=hand_out)

    assert status_with(f"Token {held['drf']}") == 401
    assert status_with(f"Knox {held['knox']}") == 401
    response = refresh(held["jwt"])
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("flow", FLOWS)
def test_a_take_back_removes_the_second_factors_enrolled_in_the_window(
    flow, settings, user, mailoutbox
):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "RECOVERY_DELAY": 2 * 86400}
    now = timezone.now()
    owners = created(TOTPDevice.objects.create(user=user, name="owner's phone"), now - 3 * DAY)
    owners_mfa = created(
        Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={}),
        now - 3 * DAY,
    )
    takers = {}

    def enrol():
        # The day before the request, inside RECOVERY_DELAY: enrolled first, asked later.
        takers["totp"] = created(
            TOTPDevice.objects.create(user=user, name="taker's phone"), now - DAY
        )
        takers["static"] = StaticDevice.objects.create(user=user, name="taker's codes")
        takers["mfa"] = Authenticator.objects.create(
            user=user, type=Authenticator.Type.RECOVERY_CODES, data={}
        )

    take_back(flow, user, mailoutbox, before=enrol)

    assert list(TOTPDevice.objects.filter(user=user)) == [owners]
    assert not StaticDevice.objects.filter(user=user).exists()
    assert list(Authenticator.objects.filter(user=user)) == [owners_mfa]
    assert "could not be told apart" not in owner_notice(mailoutbox).body


@pytest.mark.parametrize("flow", FLOWS)
def test_a_device_type_without_a_creation_time_is_kept_and_named(flow, user, mailoutbox):
    def enrol():
        PaperDevice.objects.create(user=user, name="paper")

    change = take_back(flow, user, mailoutbox, before=enrol)

    assert PaperDevice.objects.filter(user=user).exists()
    assert change.devices_kept == "integrations.paperdevice"
    notice = owner_notice(mailoutbox)
    assert "could not be told apart from yours and was kept: paper device" in notice.body
    html = notice.alternatives[0][0]
    assert "paper device" in html


def test_a_completion_by_code_spares_the_completing_knox_token_only(user, mailoutbox):
    completing = AuthToken.objects.create(user=user)[1]
    other = AuthToken.objects.create(user=user)[1]
    jwt = RefreshToken.for_user(user)
    app = Client(HTTP_AUTHORIZATION=f"Knox {completing}")
    call(app, "change", {"new_email": TAKER, "password": PASSWORD})
    assert call(app, "change-confirm", {"code": code_in(mailoutbox[-1])}).status_code == 200
    device = TOTPDevice.objects.create(user=user, name="phone")

    response = call(app, "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert response.json() == {"status": "completed"}
    assert status_with(f"Knox {completing}") == 200
    assert status_with(f"Knox {other}") == 401
    assert refresh(jwt).status_code == 401
    # A completion ends ways in, not the account's second factors.
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
