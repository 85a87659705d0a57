"""Other ways to write the address: djoser's user endpoints (W009), and what a direct write does."""

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_verified_email import checks, is_email_verified
from tests.helpers import reloaded

rest_framework = pytest.importorskip("rest_framework")
from rest_framework import serializers  # noqa: E402


class WritesTheAddress(serializers.ModelSerializer):
    """djoser's default UserSerializer where the address is in REQUIRED_FIELDS."""

    class Meta:
        model = get_user_model()
        fields = ("id", "username", "email_address")
        read_only_fields = ("username",)


class KeepsTheAddress(WritesTheAddress):
    class Meta(WritesTheAddress.Meta):
        read_only_fields = ("username", "email_address")


class WithoutTheAddress(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ("id", "username")


HERE = "tests.test_address_writers"


@pytest.fixture
def djoser(monkeypatch):
    """djoser in INSTALLED_APPS (it is not installed here: only its settings are read)."""
    installed = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: name == "djoser" or installed(name))


def w009(settings, **serializers_setting):
    settings.DJOSER = {
        "SERIALIZERS": {key: f"{HERE}.{value}" for key, value in serializers_setting.items()}
    }
    return [m for m in checks.check_address_writers() if m.id == "verified_email.W009"]


def test_w009_when_djosers_me_endpoint_writes_the_address(djoser, settings):
    [warning] = w009(settings, current_user="WritesTheAddress", user="KeepsTheAddress")
    assert "current_user serializer" in warning.msg
    assert "read_only_fields" in warning.hint


def test_w009_names_both_serializers(djoser, settings):
    [warning] = w009(settings, current_user="WritesTheAddress", user="WritesTheAddress")
    assert "current_user and user serializer" in warning.msg


@pytest.mark.parametrize("serializer", ["KeepsTheAddress", "WithoutTheAddress", "Missing"])
def test_no_w009_when_the_address_is_read_only_absent_or_unknown(djoser, settings, serializer):
    assert w009(settings, current_user=serializer, user=serializer) == []


def test_no_w009_without_djoser(settings):
    assert w009(settings, current_user="WritesTheAddress") == []


def test_a_direct_write_of_the_address_ends_the_writers_session(logged_in, user):
    # What docs/faq.md says of PATCH /users/me/ and any other direct writer.
    user.email_address = "elsewhere@example.com"
    user.save()

    assert not is_email_verified(reloaded(user))
    response = logged_in.get(reverse("verified_email:status"))
    assert response.status_code == 302  # to the login page


def test_with_logout_other_sessions_off_a_direct_write_keeps_sessions(settings, logged_in, user):
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": False}
    user.email_address = "elsewhere@example.com"
    user.save()

    assert not is_email_verified(reloaded(user))
    assert logged_in.get(reverse("verified_email:status")).status_code == 200
