"""Re-authenticating without a password on the API: status and ``change/reauth-code/``."""

import pytest

from django_verified_email import reauth_methods
from django_verified_email.models import EmailChange, ReauthAttempts
from tests import paper_factor
from tests.helpers import PASSWORD, assert_error, call, code_in

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows


@pytest.fixture
def social(logged_in, user, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    user.set_unusable_password()
    user.save(update_fields=["password"])
    logged_in.force_login(user)
    return logged_in


def change(client, **body):
    return call(client, "change", {"new_email": "new@example.com", **body})


def test_status_says_which_way_applies(logged_in, social):
    assert call(social, "status", method="get").json()["reauthentication"] == "code"


def test_the_code_stands_in_for_the_password(social, user, mailoutbox):
    sent = call(social, "change-reauth-code")
    assert sent.status_code == 202
    assert sent.json() == {"email": "alice@example.com"}

    response = change(social, code=code_in(mailoutbox[-1]))

    assert response.status_code == 202
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert not ReauthAttempts.objects.exists()


def test_a_wrong_code_is_refused_and_counted(social, user, mailoutbox):
    call(social, "change-reauth-code")

    assert_error(change(social, code="000-000"), 400, "invalid_code")
    assert ReauthAttempts.objects.get(user=user).count == 1
    assert not EmailChange.objects.exists()


def test_a_password_or_a_code_not_both(social):
    assert_error(change(social, code="1", password=PASSWORD), 400, "invalid_request")
    assert_error(change(social), 400, "invalid_request")


def test_a_user_with_a_password_gets_no_code(logged_in, mailoutbox):
    assert call(logged_in, "status", method="get").json()["reauthentication"] == "password"
    assert_error(call(logged_in, "change-reauth-code"), 400, "password_required")
    assert mailoutbox == []


def test_a_recovery_without_a_password_is_refused_clearly(social, mailoutbox):
    call(social, "change-reauth-code")

    response = change(social, code=code_in(mailoutbox[-1]), old_email_lost=True)

    assert_error(response, 400, "recovery_needs_password")
    assert not EmailChange.objects.exists()


def test_a_recovery_without_a_password_passes_with_a_second_factor(social, user, settings):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "REAUTHENTICATE": paper_factor.PATH}
    paper_factor.reset()
    paper_factor.enrol(user)
    try:
        wrong = change(social, code="", otp="000000", old_email_lost=True)
        response = change(social, code="", otp=paper_factor.OTP, old_email_lost=True)
    finally:
        paper_factor.reset()

    assert_error(wrong, 400, "wrong_second_factor")
    assert response.status_code == 202, response.content
    change_row = EmailChange.objects.get(user=user)
    assert change_row.old_email_lost
    assert change_row.second_factor


# A host's policy (reauth_methods): what the allauth bridge installs, tested here
# without allauth.


@pytest.fixture
def policy():
    yield reauth_methods.use_policy
    reauth_methods.use_policy(None)


def test_without_the_code_a_second_factor_stands_in_alone(social, user, settings, policy):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "REAUTHENTICATE": paper_factor.PATH}
    policy(lambda user: {reauth_methods.SECOND_FACTOR})
    paper_factor.reset()
    paper_factor.enrol(user)
    try:
        status = call(social, "status", method="get").json()["reauthentication"]
        no_code = call(social, "change-reauth-code")
        wrong = change(social, otp="000000")
        right = change(social, otp=paper_factor.OTP)
    finally:
        paper_factor.reset()

    assert status == "second_factor"
    assert_error(no_code, 403, "reauthentication_unavailable")
    assert_error(wrong, 400, "wrong_second_factor")
    assert right.status_code == 202, right.content
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert not ReauthAttempts.objects.exists()


def test_with_no_allowed_way_the_change_is_refused_clearly(social, user, policy, mailoutbox):
    policy(lambda user: set())

    assert call(social, "status", method="get").json()["reauthentication"] == "none"
    assert_error(change(social, code="123456"), 403, "reauthentication_unavailable")
    assert_error(call(social, "change-reauth-code"), 403, "reauthentication_unavailable")
    assert not ReauthAttempts.objects.exists()
    assert mailoutbox == []
