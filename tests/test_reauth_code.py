"""Re-authenticating without a password: a code to the verified current address."""

import pytest

from django_verified_email import flows
from django_verified_email.exceptions import InvalidCode, RecoveryNeedsPassword
from django_verified_email.models import EmailChange, ReauthAttempts, WrongCode
from tests.helpers import BASE_URL, code_in, url

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows


@pytest.fixture
def social(user, settings):
    """A user who logged in with a social account: no usable password."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "REAUTH_MAX_ATTEMPTS": 3}
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def logged_in_social(client, social):
    client.force_login(social)
    return client


def send_code(client):
    return client.post(url("change-reauth-code"))


def change_with_code(client, code, **more):
    return client.post(url("change"), {"new_email": "new@example.com", "code": code, **more})


def test_the_change_page_offers_a_code_instead_of_the_password(logged_in_social):
    page = logged_in_social.get(url("change")).text

    assert 'name="password"' not in page
    assert 'name="code"' in page
    assert 'id="ve-reauth-code"' in page


def test_a_user_without_a_password_changes_with_a_code(logged_in_social, social, mailoutbox):
    sent = send_code(logged_in_social)

    assert sent.status_code == 302
    assert sent.url == url("change")
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert "Type this code in the app or on the site:" in message.body
    assert "Or type" not in message.body
    followed = logged_in_social.get(url("change"))
    assert "We sent a code to alice@example.com" in followed.text

    response = change_with_code(logged_in_social, code_in(message))

    assert response.status_code == 302
    change = EmailChange.objects.get(user=social)
    assert (change.status, change.new_email) == ("awaiting_old", "new@example.com")
    assert mailoutbox[-1].to == ["alice@example.com"]
    assert not ReauthAttempts.objects.exists()
    # Used: it does not open a second request.
    again = change_with_code(logged_in_social, code_in(message))
    assert "This code no longer works" in again.text
    assert EmailChange.objects.filter(user=social).count() == 1


def test_a_wrong_code_counts_toward_the_lockout_and_the_code_limits(
    logged_in_social, social, mailoutbox
):
    send_code(logged_in_social)
    right = code_in(mailoutbox[-1])
    wrong = f"{(int(right.replace('-', '')) + 1) % 1000000:06d}"

    first = change_with_code(logged_in_social, wrong)
    assert first.status_code == 200
    assert "This code is not right" in first.text
    assert ReauthAttempts.objects.get(user=social).count == 1
    assert WrongCode.objects.filter(user=social).count() == 1
    change_with_code(logged_in_social, wrong)

    locked = change_with_code(logged_in_social, wrong)

    assert locked.status_code == 429
    assert 'data-code="locked_out"' in locked.text
    assert change_with_code(logged_in_social, right).status_code == 429
    assert not EmailChange.objects.exists()


def test_a_recovery_needs_a_password_or_a_second_factor(logged_in_social, social, mailoutbox):
    send_code(logged_in_social)

    response = change_with_code(logged_in_social, code_in(mailoutbox[-1]), old_email_lost="on")

    assert response.status_code == 400
    assert 'data-code="recovery_needs_password"' in response.text
    assert not EmailChange.objects.exists()
    assert len(mailoutbox) == 1
    assert not ReauthAttempts.objects.exists()
    with pytest.raises(RecoveryNeedsPassword):
        flows.request_change(social, "new@example.com", None, old_email_lost=True, code="1")


def test_a_user_with_a_password_is_sent_no_code(logged_in, mailoutbox):
    response = send_code(logged_in)

    assert response.status_code == 400
    assert 'data-code="password_required"' in response.text
    assert mailoutbox == []


def test_an_unverified_address_is_sent_no_code(make_user, client, mailoutbox):
    user = make_user(verified=False)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    client.force_login(user)

    assert send_code(client).status_code == 400
    assert flows.reauthentication(user) == "password"
    assert mailoutbox == []


def test_no_code_sent_is_refused_without_counting(social):
    with pytest.raises(InvalidCode):
        flows.request_change(social, "new@example.com", None, base_url=BASE_URL)
    assert not ReauthAttempts.objects.exists()
