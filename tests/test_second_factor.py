"""A second factor before a change: the HTML page, the flow, the hook's system check."""

import pytest

from django_verified_email import flows
from django_verified_email.checks import check_reauthenticate
from django_verified_email.exceptions import (
    LockedOut,
    SecondFactorRequired,
    WrongPassword,
    WrongSecondFactor,
)
from django_verified_email.models import EmailChange, ReauthAttempts
from django_verified_email.second_factor import Proof
from tests import paper_factor
from tests.helpers import BASE_URL, PASSWORD, request_change, url


@pytest.fixture(autouse=True)
def _paper_factor(settings):
    settings.VERIFIED_EMAIL = {"REAUTHENTICATE": paper_factor.PATH, "RESEND_COOLDOWN": 0}
    paper_factor.reset()
    yield
    paper_factor.reset()


@pytest.fixture
def enrolled(user):
    paper_factor.enrol(user)
    return user


def test_the_change_page_asks_for_the_second_factor_first(logged_in, enrolled, settings):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "SUPPORT_URL": "https://help.example"}

    response = logged_in.get(url("change"))

    assert response.status_code == 403
    assert 'data-code="second_factor_required"' in response.text
    assert 'name="password"' not in response.text
    # No page of the host's to pass it again is known: support instead.
    assert 'id="ve-reauthenticate"' not in response.text
    assert 'href="https://help.example"' in response.text


def test_a_posted_change_without_the_second_factor_is_refused(logged_in, enrolled, mailoutbox):
    response = request_change(logged_in, "new@example.com")

    assert response.status_code == 403
    assert 'data-code="second_factor_required"' in response.text
    assert not EmailChange.objects.exists()
    assert mailoutbox == []
    # Refused before the password: no attempt counted.
    assert not ReauthAttempts.objects.exists()


def test_a_session_that_passed_the_second_factor_may_change(logged_in, enrolled, mailoutbox):
    paper_factor.pass_in(logged_in, enrolled)

    assert logged_in.get(url("change")).status_code == 200
    response = request_change(logged_in, "new@example.com")

    assert response.status_code == 302
    assert EmailChange.objects.get().status == "awaiting_old"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert paper_factor.VERIFIED == []


def test_a_user_without_a_second_factor_needs_only_the_password(logged_in, mailoutbox):
    assert logged_in.get(url("change")).status_code == 200
    assert request_change(logged_in, "new@example.com").status_code == 302
    assert len(mailoutbox) == 1


def test_the_flow_checks_the_otp_after_the_password(enrolled, mailoutbox):
    with pytest.raises(SecondFactorRequired):
        flows.request_change(enrolled, "new@example.com", PASSWORD, second_factor_proof=Proof())
    # A wrong password: the one-time password is not even tried.
    with pytest.raises(WrongPassword) as wrong:
        flows.request_change(
            enrolled, "new@example.com", "wrong", second_factor_proof=Proof(otp=paper_factor.OTP)
        )
    assert wrong.value.code == "wrong_password"
    assert paper_factor.VERIFIED == []

    with pytest.raises(WrongSecondFactor) as wrong_otp:
        flows.request_change(
            enrolled, "new@example.com", PASSWORD, second_factor_proof=Proof(otp="000000")
        )
    assert wrong_otp.value.attempts_left == 3
    assert ReauthAttempts.objects.get(user=enrolled).count == 2
    assert not EmailChange.objects.exists()

    change = flows.request_change(
        enrolled,
        "new@example.com",
        PASSWORD,
        base_url=BASE_URL,
        second_factor_proof=Proof(otp=paper_factor.OTP),
    )

    assert change.status == "awaiting_old"
    # The right answer forgets the count, as a right password does.
    assert not ReauthAttempts.objects.exists()
    assert len(mailoutbox) == 1


def test_wrong_one_time_passwords_lock_the_account(enrolled, settings, mailoutbox):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "REAUTH_MAX_ATTEMPTS": 2}
    wrong = Proof(otp="000000")
    with pytest.raises(WrongSecondFactor):
        flows.request_change(enrolled, "new@example.com", PASSWORD, second_factor_proof=wrong)
    with pytest.raises(LockedOut) as locked:
        flows.request_change(enrolled, "new@example.com", PASSWORD, second_factor_proof=wrong)
    assert locked.value.retry_after

    # Locked: the right answers no longer get through, with or without an otp.
    for proof in (Proof(otp=paper_factor.OTP), Proof()):
        with pytest.raises(LockedOut):
            flows.request_change(enrolled, "new@example.com", PASSWORD, second_factor_proof=proof)
    assert ReauthAttempts.objects.get(user=enrolled).locked_until is not None
    assert not EmailChange.objects.exists()
    assert mailoutbox == []


def test_an_accepted_otp_is_a_second_factor_for_a_recovery(enrolled, mailoutbox):
    change = flows.request_change(
        enrolled,
        "new@example.com",
        PASSWORD,
        base_url=BASE_URL,
        old_email_lost=True,
        second_factor_proof=Proof(otp=paper_factor.OTP),
    )

    assert change.old_email_lost
    assert change.second_factor


def test_a_recovery_passed_by_the_session_alone_still_waits(logged_in, enrolled, mailoutbox):
    paper_factor.pass_in(logged_in, enrolled)

    response = logged_in.post(
        url("change"),
        {"new_email": "new@example.com", "password": PASSWORD, "old_email_lost": "on"},
    )

    assert response.status_code == 302
    change = EmailChange.objects.get()
    assert change.old_email_lost
    assert not change.second_factor


@pytest.mark.parametrize(
    "path", ["tests.paper_factor.Missing", "tests.paper_factor.NotAFactor", 42]
)
def test_check_refuses_a_hook_that_is_not_a_second_factor(settings, path):
    settings.VERIFIED_EMAIL = {"REAUTHENTICATE": path}

    [error] = check_reauthenticate()

    assert error.id == "verified_email.E012"


def test_check_accepts_the_hook_and_none(settings):
    assert check_reauthenticate() == []
    settings.VERIFIED_EMAIL = {"REAUTHENTICATE": None}
    assert check_reauthenticate() == []
