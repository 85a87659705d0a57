"""What a take-back ends besides sessions (ACCESS_REVOKERS): here, DRF's own tokens.

The other built-in revokers (simplejwt, knox, django-otp, allauth.mfa) are
tested against their packages in tests/integrations.
"""

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from django_verified_email import flows, revokers
from django_verified_email.checks import check_access_revokers, check_jwt_blacklist
from django_verified_email.models import EmailChange
from tests.helpers import BASE_URL, PASSWORD, call, code_in, token_in
from tests.takeback import FLOWS, TAKER, take_back

TOKEN_AUTH = "rest_framework.authentication.TokenAuthentication"
FAILING = "tests.api.test_revokers.failing_revoker"
DRF_TOKENS = "django_verified_email.revokers.drf_tokens"

failures = {"left": 0}


def failing_revoker(user, *, since):
    """Fails with a database error while ``failures["left"]``: the transaction must survive it."""
    if failures["left"]:
        failures["left"] -= 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_of_the_revoker")


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "API_AUTHENTICATION_CLASSES": [TOKEN_AUTH]}
    failures["left"] = 0


def token_client(key):
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def answers(key):
    return call(token_client(key), "status", method="get").status_code


def test_the_default_revokers_are_those_of_the_installed_apps():
    assert revokers.paths() == (DRF_TOKENS,)


@pytest.mark.parametrize("flow", FLOWS)
def test_a_take_back_ends_the_takers_drf_token(flow, user, mailoutbox):
    thief = {}

    def hand_out_token():
        thief["key"] = Token.objects.create(user=user).key
        assert answers(thief["key"]) == 200

    change = take_back(flow, user, mailoutbox, before=hand_out_token)

    assert answers(thief["key"]) == 401
    assert not Token.objects.filter(user=user).exists()
    assert change.access_owed == ""
    assert change.access_owed_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("flow", FLOWS)
def test_a_failing_revoker_is_owed_and_the_others_still_run(
    flow, settings, user, mailoutbox, caplog
):
    # transaction=True: the take-back commits for real, as a failed statement
    # inside it would abort it on PostgreSQL without the revoker's savepoint.
    settings.VERIFIED_EMAIL = {
        **settings.VERIFIED_EMAIL,
        "ACCESS_REVOKERS": [FAILING, DRF_TOKENS],
        "BASE_URL": BASE_URL,
    }
    thief = {}

    def hand_out_token():
        thief["key"] = Token.objects.create(user=user).key
        failures["left"] = 2

    change = take_back(flow, user, mailoutbox, before=hand_out_token)

    assert answers(thief["key"]) == 401
    [logged] = [r for r in caplog.records if r.name == "django_verified_email"]
    assert logged.getMessage() == f"Access revoker {FAILING} failed for user {user.pk}; it is owed"
    change.refresh_from_db()
    assert change.access_owed == FAILING
    assert change.access_owed_at is not None
    # Owed revokers run again with the due recoveries: failing once more...
    assert flows.revoke_owed() == 0
    change.refresh_from_db()
    assert change.access_owed == FAILING
    # ...then succeeding.
    call_command("verified_email_complete_due")
    change.refresh_from_db()
    assert change.access_owed == ""
    assert change.access_owed_at is None
    assert failures["left"] == 0


def test_a_completion_by_code_spares_the_completing_token(user, mailoutbox):
    # DRF keeps one token per user; knox's many: tests/integrations.
    completing = Token.objects.create(user=user)
    app = token_client(completing.key)
    call(app, "change", {"new_email": TAKER, "password": PASSWORD})
    assert call(app, "change-confirm", {"code": code_in(mailoutbox[-1])}).status_code == 200

    response = call(app, "change-confirm", {"code": code_in(mailoutbox[-1])})

    assert response.json() == {"status": "completed"}
    assert answers(completing.key) == 200


def test_a_completion_by_link_ends_every_token(user, mailoutbox):
    key = Token.objects.create(user=user).key
    flows.request_change(user, TAKER, PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    assert EmailChange.objects.get().status == "completed"
    assert answers(key) == 401


def test_a_completion_keeps_tokens_without_logout_other_sessions(settings, user, mailoutbox):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "LOGOUT_OTHER_SESSIONS": False}
    key = Token.objects.create(user=user).key
    flows.request_change(user, TAKER, PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)

    assert EmailChange.objects.get().status == "completed"
    assert answers(key) == 200


@pytest.mark.parametrize(
    "value",
    [
        ["tests.api.test_revokers.no_such_revoker"],
        ["no_such_module.revoke"],
        ["tests.api.test_revokers.FAILING"],  # a string, not a callable
        [3],
        "tests.api.test_revokers.failing_revoker",
    ],
)
def test_check_errors_on_a_revoker_that_does_not_import_as_a_callable(settings, value):
    settings.VERIFIED_EMAIL = {"ACCESS_REVOKERS": value}

    assert [error.id for error in check_access_revokers()] == ["verified_email.E010"]


@pytest.mark.parametrize("value", [None, [], [FAILING, DRF_TOKENS]])
def test_check_accepts_callable_revokers(settings, value):
    settings.VERIFIED_EMAIL = {"ACCESS_REVOKERS": value}

    assert check_access_revokers() == []


def test_check_warns_when_jwts_cannot_be_blacklisted(settings):
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTAuthentication"
        ]
    }

    [warning] = check_jwt_blacklist()

    assert warning.id == "verified_email.W010"
    assert isinstance(warning, checks.Warning)
    assert "token_blacklist" in warning.hint


def test_check_is_quiet_without_jwts(settings):
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [TOKEN_AUTH]}

    assert check_jwt_blacklist() == []
