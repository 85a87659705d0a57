"""System checks: stable ids for a missing mixin and for bad settings."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_verified_email.checks import check_settings, check_user_model


def ids(messages):
    return [message.id for message in messages]


def test_the_test_settings_pass_every_check():
    assert check_user_model() == []
    assert check_settings() == []
    errors = [
        message
        for message in checks.run_checks()
        if message.id.startswith("verified_email.") and message.level >= checks.ERROR
    ]
    assert errors == []


@override_settings(AUTH_USER_MODEL="testapp.PlainUser")
def test_e001_when_the_user_model_lacks_the_mixin():
    [error] = check_user_model()

    assert error.id == "verified_email.E001"
    assert error.level == checks.ERROR
    assert "testapp.PlainUser" in error.msg
    assert "VerifiedEmailMixin" in error.hint


@override_settings(AUTH_USER_MODEL="testapp.PlainUser")
def test_e001_stops_manage_py_check():
    with pytest.raises(SystemCheckError, match=r"verified_email\.E001"):
        call_command("check")


@override_settings(AUTH_USER_MODEL="testapp.DoesNotExist")
def test_an_unknown_user_model_is_left_to_djangos_own_check():
    assert check_user_model() == []


def test_e002_when_the_setting_is_not_a_dict(settings):
    settings.VERIFIED_EMAIL = ["LINK_MAX_AGE", 60]

    assert ids(check_settings()) == ["verified_email.E002"]


def test_e002_for_an_unknown_key(settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 60, "LINK_MAXAGE": 60}

    [error] = check_settings()

    assert error.id == "verified_email.E002"
    assert "'LINK_MAXAGE'" in error.msg
    assert "LINK_MAX_AGE" in error.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LINK_MAX_AGE", 0),
        ("LINK_MAX_AGE", -1),
        ("LINK_MAX_AGE", "86400"),
        ("LINK_MAX_AGE", 1.5),
        ("LINK_MAX_AGE", None),
        ("REAUTH_MAX_ATTEMPTS", 0),
        ("REAUTH_MAX_ATTEMPTS", True),
        ("REAUTH_LOCKOUT", 0),
        ("RESEND_COOLDOWN", -1),
    ],
)
def test_e003_for_a_bad_number(settings, key, value):
    settings.VERIFIED_EMAIL = {key: value}

    [error] = check_settings()

    assert error.id == "verified_email.E003"
    assert repr(key) in error.msg


def test_a_zero_cooldown_is_allowed(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}

    assert check_settings() == []


@pytest.mark.parametrize("value", ["async", "", None, "SYNC"])
def test_e004_for_an_unknown_delivery(settings, value):
    settings.VERIFIED_EMAIL = {"DELIVERY": value}

    assert ids(check_settings()) == ["verified_email.E004"]


@pytest.mark.parametrize("value", ["example.com", "//example.com", "ftp://example.com", 42])
def test_e005_for_a_bad_base_url(settings, value):
    settings.VERIFIED_EMAIL = {"BASE_URL": value}

    assert ids(check_settings()) == ["verified_email.E005"]


@pytest.mark.parametrize("value", [None, "https://example.com", "http://localhost:8000"])
def test_good_base_urls(settings, value):
    settings.VERIFIED_EMAIL = {"BASE_URL": value}

    assert check_settings() == []


def test_several_errors_are_reported_together(settings):
    settings.VERIFIED_EMAIL = {"NOPE": 1, "LINK_MAX_AGE": 0, "DELIVERY": "x", "BASE_URL": "x"}

    assert sorted(ids(check_settings())) == [
        "verified_email.E002",
        "verified_email.E003",
        "verified_email.E004",
        "verified_email.E005",
    ]
