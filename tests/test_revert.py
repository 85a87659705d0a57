"""The "this wasn't me" link in the notice to the old address."""

import pytest
from django.test import Client

from django_verified_email import flows, is_email_verified, signals
from django_verified_email.exceptions import InvalidToken, LockedOut
from django_verified_email.models import EmailChange
from tests.failing_mail import UNREACHABLE, use_mail_backend
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    complete_dual_change,
    email_of,
    later,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
    with_new_password,
)

pytestmark = pytest.mark.hardening


@pytest.fixture
def reverted_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.email_change_reverted.connect(receiver)
    yield events
    signals.email_change_reverted.disconnect(receiver)


@pytest.fixture
def taken_over(user, mailoutbox, settings):
    """Someone changed Alice's address to theirs; the notice went to alice@."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    notice = complete_dual_change(user, "mallory@example.com", mailoutbox)
    assert notice.to == ["alice@example.com"]
    return revert_token_in(notice)


def test_the_notice_carries_a_revert_link_for_a_week(taken_over, mailoutbox):
    [notice] = [m for m in mailoutbox if m.to == ["alice@example.com"] and "changed" in m.subject]
    assert "/change/revert/" in notice.body
    assert "7 days" in notice.body
    html = notice.alternatives[0][0]
    assert revert_path(taken_over) in html


def test_get_shows_a_confirm_page_and_changes_nothing(taken_over, user):
    response = Client().get(revert_path(taken_over))

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b'method="post"' in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert email_of(reloaded(user)) == "mallory@example.com"


def test_post_reverts_to_the_old_address_verified_and_fires_the_signal(
    taken_over, user, reverted_events
):
    response = Client().post(revert_path(taken_over), {"password": PASSWORD})

    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    user = reloaded(user)
    assert email_of(user) == "alice@example.com"
    assert is_email_verified(user)
    change = EmailChange.objects.get()
    assert change.status == "completed"
    assert change.reverted_at is not None
    [event] = reverted_events
    assert event["user"].pk == user.pk
    assert event["change"].pk == change.pk
    assert event["restored_email"] == "alice@example.com"
    assert event["discarded_email"] == "mallory@example.com"


def test_the_revert_link_works_once(taken_over, user):
    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 200

    again = Client().post(revert_path(taken_over), {"password": PASSWORD})

    assert again.status_code == 400
    assert email_of(reloaded(user)) == "alice@example.com"


def test_a_revert_locks_further_changes_for_a_while(taken_over, user, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CHANGE_LOCK_AFTER_REVERT": 3600}
    flows.revert_change(taken_over, password=PASSWORD, base_url=BASE_URL)
    # Even once the owner set a new password:
    with_new_password(user)

    with pytest.raises(LockedOut) as raised:
        flows.request_change(reloaded(user), "mallory2@example.com", PASSWORD, base_url=BASE_URL)
    assert 3500 < raised.value.retry_after <= 3600
    response = request_change(client_for(reloaded(user)), "mallory2@example.com")
    assert response.status_code == 429
    assert response["Retry-After"]
    assert not EmailChange.objects.filter(new_email="mallory2@example.com").exists()

    with later(3601):
        flows.request_change(reloaded(user), "mallory2@example.com", PASSWORD, base_url=BASE_URL)
    assert EmailChange.objects.filter(new_email="mallory2@example.com").exists()


def test_a_revert_cancels_an_open_change(taken_over, user, mailoutbox):
    flows.request_change(reloaded(user), "mallory2@example.com", PASSWORD, base_url=BASE_URL)
    pending_link = token_in(mailoutbox[-1])

    flows.revert_change(taken_over, password=PASSWORD, base_url=BASE_URL)

    assert flows.pending_change(user) is None
    assert EmailChange.objects.get(new_email="mallory2@example.com").status == "cancelled"
    with pytest.raises(InvalidToken):
        flows.confirm_change(pending_link)


def test_the_revert_link_expires_after_revert_max_age(taken_over, user):
    with later(604800 + 1):
        response = Client().post(revert_path(taken_over), {"password": PASSWORD})
        logged_in = client_for(reloaded(user)).get(revert_path(taken_over))
    assert response.status_code == 410
    assert b"contact support" in response.content
    # No "send me a new link" button: there is no new revert link to send.
    assert logged_in.status_code == 410
    assert b"change/resend/" not in logged_in.content
    assert email_of(reloaded(user)) == "mallory@example.com"


def test_a_further_change_does_not_void_the_way_back(taken_over, user, mailoutbox):
    # The taker changes the address once more, so that the next notice (and
    # its revert link) goes to a mailbox of theirs...
    second_notice = complete_dual_change(reloaded(user), "mallory2@example.com", mailoutbox)
    assert second_notice.to == ["mallory@example.com"]

    # ...yet Alice's link still brings her address back,
    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"
    # and the taker's own revert link of the second change is dead.
    taker_link = revert_token_in(second_notice)
    assert Client().post(revert_path(taker_link), {"password": PASSWORD}).status_code == 400
    assert email_of(reloaded(user)) == "alice@example.com"
    assert EmailChange.objects.filter(reverted_at__isnull=False).count() == 2


def test_the_revert_link_survives_going_back_to_the_same_address(taken_over, user, mailoutbox):
    complete_dual_change(reloaded(user), "other@example.com", mailoutbox)
    complete_dual_change(reloaded(user), "mallory@example.com", mailoutbox)

    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"


def test_the_revert_link_is_invalid_once_the_address_was_set_outside_the_app(taken_over, user):
    user = reloaded(user)
    user.email_address = "set.by.admin@example.com"
    user.save()

    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 400
    assert email_of(reloaded(user)) == "set.by.admin@example.com"


def test_a_revert_undone_later_leaves_the_first_link_working(taken_over, user, mailoutbox):
    # alice -> mallory (taken_over) -> mallory2; mallory uses the second
    # change's link to get mallory@ back; Alice's link still wins in the end.
    second_notice = complete_dual_change(reloaded(user), "mallory2@example.com", mailoutbox)
    assert (
        Client()
        .post(revert_path(revert_token_in(second_notice)), {"password": PASSWORD})
        .status_code
        == 200
    )
    assert email_of(reloaded(user)) == "mallory@example.com"

    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"


def test_a_password_change_does_not_void_the_revert_link(taken_over, user):
    # Whoever took the account over may change the password first.
    user = reloaded(user)
    user.set_password("mallory's password")
    user.save()
    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"


def test_reverting_to_an_address_now_taken_is_refused_clearly(taken_over, user, make_user):
    make_user("bob", "ALICE@example.com")

    response = Client().post(revert_path(taken_over), {"password": PASSWORD})

    assert response.status_code == 409
    assert b'data-code="email_taken"' in response.content
    assert b"contact support" in response.content
    assert email_of(reloaded(user)) == "mallory@example.com"
    assert EmailChange.objects.get().reverted_at is None


def test_an_inactive_users_revert_link_is_refused(taken_over, user):
    user = reloaded(user)
    user.is_active = False
    user.save()
    assert Client().get(revert_path(taken_over)).status_code == 400
    assert Client().post(revert_path(taken_over), {"password": PASSWORD}).status_code == 400


@pytest.mark.parametrize("token", ["nonsense", "a" * 2000])
def test_a_bad_revert_token_is_invalid(token, db):
    assert Client().post(revert_path(token), {"password": PASSWORD}).status_code == 400


def test_an_unverified_old_address_gets_the_notice_and_its_revert_link_works(
    make_user, mailoutbox, settings
):
    # The add-email flow from an unverified address (an account from before
    # the app was adopted): the old address still hears of it, and can undo it.
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    user = make_user(verified=False)
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    [notice] = [m for m in mailoutbox if m.to == ["alice@example.com"]]

    assert (
        Client().post(revert_path(revert_token_in(notice)), {"password": PASSWORD}).status_code
        == 200
    )

    user = reloaded(user)
    assert email_of(user) == "alice@example.com"
    # Verified now: the revert link sent to it proved it.
    assert is_email_verified(user)


def test_a_revert_whose_notices_fail_is_still_done_and_offers_the_new_password(
    taken_over, user, settings
):
    use_mail_backend(settings, UNREACHABLE)
    response = Client().post(revert_path(taken_over), {"password": PASSWORD})
    assert response.status_code == 200
    assert 'name="new_password1"' in response.text
    assert email_of(reloaded(user)) == "alice@example.com"
    assert EmailChange.objects.get().reverted_at is not None
