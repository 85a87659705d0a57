"""Taking an account back: sessions that stay dead, the password retired, a revert
nobody can block, the counter, and what an attacker holding one thing gets
(docs/security.md names these tests in its "attacker holds X" table)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_verified_email import flows, is_email_verified, signals, tokens
from django_verified_email.models import EmailChange
from django_verified_email.stores import unproven
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    can_log_in,
    client_for,
    complete_dual_change,
    email_of,
    is_logged_in,
    link_path,
    links_in,
    move_counter,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    security_counter,
    set_password_path,
    set_password_token_in,
    snapshot,
    token_in,
    with_new_password,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture(autouse=True)
def _no_cooldown(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}


@pytest.fixture
def released_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.email_address_released.connect(receiver)
    yield events
    signals.email_address_released.disconnect(receiver)


def take_over(user, mailoutbox, intruder):
    """The intruder, with password and session, moves the account; returns the revert path.

    A verified old address must confirm first (someone clicked it); an
    unverified one is the single-link flow.
    """
    assert request_change(intruder, "mallory@example.com").status_code == 302
    if mailoutbox[-1].to == ["alice@example.com"]:
        assert Client().post(link_path(mailoutbox[-1])).status_code == 200
    response = intruder.post(link_path(mailoutbox[-1], to="mallory@example.com"))
    assert response.status_code == 302
    [notice] = [m for m in mailoutbox if links_in(m, REVERT_PAGE)]
    return revert_path(revert_token_in(notice, to="alice@example.com"))


# The counter ---------------------------------------------------------------


def test_the_counter_moves_on_every_address_change_by_any_path(user, mailoutbox):
    start = security_counter(reloaded(user))
    stored = reloaded(user)
    stored.email_address = "set.by.admin@example.com"
    stored.save()
    after_admin = security_counter(reloaded(user))
    assert after_admin > start

    flows.send_verification(reloaded(user), base_url=BASE_URL)
    flows.confirm_verification(token_in(mailoutbox[-1]))
    notice = complete_dual_change(reloaded(user), "new@example.com", mailoutbox)
    after_completion = security_counter(reloaded(user))
    assert after_completion > after_admin

    flows.confirm_revert(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)
    assert security_counter(reloaded(user)) > after_completion


def test_an_old_verification_link_does_not_come_back_with_its_address(make_user, mailoutbox):
    # A to B to A: the address is A again, and so is the verified state, but
    # the counter moved twice, so A's first link stays dead.
    user = make_user(verified=False)
    flows.send_verification(user, base_url=BASE_URL)
    old_link = token_in(mailoutbox[-1])
    for address in ("b@example.com", "alice@example.com"):
        stored = reloaded(user)
        stored.email_address = address
        stored.save()

    with pytest.raises(flows.confirm_verification.__globals__["InvalidToken"]):
        flows.confirm_verification(old_link)
    assert not is_email_verified(reloaded(user))


def test_an_idle_session_from_before_the_takeover_stays_dead_after_the_revert(user, mailoutbox):
    # The intruder logs in, leaves that session idle, and takes the account
    # over from another one. With the address in the session hash, the
    # revert (which puts the address back) would bring the idle one back.
    idle = client_for(user)
    intruder = client_for(user)
    revert = take_over(user, mailoutbox, intruder)
    assert not is_logged_in(idle)  # a completion ends the other sessions

    Client().post(revert, {"password": PASSWORD})

    assert not is_logged_in(idle)
    assert not is_logged_in(intruder)


@pytest.mark.parametrize("logout_other_sessions", [True, False])
def test_a_revert_ends_every_session_whatever_the_setting(
    settings, user, mailoutbox, logout_other_sessions
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "LOGOUT_OTHER_SESSIONS": logout_other_sessions}
    elsewhere = client_for(user)
    intruder = client_for(user)
    revert = take_over(user, mailoutbox, intruder)
    assert is_logged_in(intruder)
    assert is_logged_in(elsewhere) is not logout_other_sessions
    clicking = client_for(reloaded(user))

    response = clicking.post(revert, {"password": PASSWORD})

    assert response.status_code == 200
    for client in (intruder, elsewhere, clicking):
        assert not is_logged_in(client)


def test_a_session_stays_when_only_links_die(user):
    # Releasing an address moves the counter without ending sessions.
    client = client_for(user)
    move_counter(user, end_sessions=False)
    assert is_logged_in(client)
    move_counter(user, end_sessions=True)
    assert not is_logged_in(client)


def test_a_user_whose_counter_never_moved_keeps_djangos_session_hash(user):
    # Adopting the mixin, or upgrading to the counter, logs nobody out.
    parent = super(type(user), user).get_session_auth_hash()
    assert user.get_session_auth_hash() == parent


# The revert: password, notices ---------------------------------------------


def test_a_revert_retires_the_password_and_offers_a_new_one(user, mailoutbox):
    revert = take_over(user, mailoutbox, client_for(user))

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 200
    assert not can_log_in(user)
    assert 'name="new_password1"' in response.text
    action = response.text.split('id="ve-set-password"')[0].rsplit('action="', 1)[1].split('"')[0]
    done = Client().post(action, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 200
    assert can_log_in(user, NEW_PASSWORD)
    assert not can_log_in(user, PASSWORD)


@pytest.mark.parametrize("host_middleware", [False, True])
def test_the_pages_that_take_the_new_password_are_never_framed(
    user, mailoutbox, settings, host_middleware
):
    # The revert and deny answers show the new-password form, and the
    # set-password page is one: framed by another site, the owner could be
    # led to type the new password into the attacker's overlay.
    if host_middleware:
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE,
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
        settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    assert request_change(client_for(user), "mallory@example.com").status_code == 302
    denied = Client().post(link_path(mailoutbox[-1]), {"deny": "1"})
    set_password = set_password_path(set_password_token_in(mailoutbox[-2], to="alice@example.com"))
    responses = [
        denied,
        Client().get(set_password),
        Client().post(set_password, {"new_password1": "short", "new_password2": "x"}),
    ]
    revert = take_over(user, mailoutbox, client_for(with_new_password(user)))
    responses.append(Client().post(revert, {"password": PASSWORD}))

    for response in responses:
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"


def test_a_revert_tells_the_discarded_and_the_restored_address(settings, user, mailoutbox):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "SUPPORT_URL": "https://help.example.com/"}
    revert = take_over(user, mailoutbox, client_for(user))
    sent = len(mailoutbox)

    Client().post(revert, {"password": PASSWORD})

    [discarded, restored] = mailoutbox[sent:]
    assert discarded.to == ["mallory@example.com"]
    assert "went back to its previous address" in discarded.body
    assert "https://help.example.com/" in discarded.body
    change = EmailChange.objects.get()
    assert str(change.reverted_at.year) in discarded.body
    assert restored.to == ["alice@example.com"]
    assert "alice@example.com is the address of your" in restored.body
    token = set_password_token_in(restored)
    assert Client().get(set_password_path(token)).status_code == 200


def test_the_support_url_is_shown_only_when_set(user, mailoutbox):
    revert = take_over(user, mailoutbox, client_for(user))
    sent = len(mailoutbox)
    Client().post(revert, {"password": PASSWORD})
    [discarded, _] = mailoutbox[sent:]
    assert "get help" not in discarded.body


def test_the_discarded_address_is_the_newest_one_undone(user, mailoutbox):
    first = complete_dual_change(user, "mallory@example.com", mailoutbox)
    complete_dual_change(reloaded(user), "mallory2@example.com", mailoutbox)
    sent = len(mailoutbox)

    flows.confirm_revert(revert_token_in(first), password=PASSWORD, base_url=BASE_URL)

    assert [m.to for m in mailoutbox[sent:]] == [["mallory2@example.com"], ["alice@example.com"]]


# A revert (or a completion) nobody can block -------------------------------


def test_an_unproved_holder_does_not_block_the_revert(user, make_user, mailoutbox, released_events):
    revert = take_over(user, mailoutbox, client_for(user))
    # The intruder signs up a second account with the freed old address.
    squatter = make_user("squatter", "Alice@example.com", verified=False)
    squatter_session = client_for(squatter)

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"
    assert is_email_verified(reloaded(user))
    squatter = reloaded(squatter)
    assert email_of(squatter) == ""
    assert not is_email_verified(squatter)
    assert is_logged_in(squatter_session)  # its account stays; only the address goes
    [event] = released_events
    assert event["user"].pk == squatter.pk
    assert event["email"] == "Alice@example.com"
    assert event["taken_by"].pk == user.pk


def test_a_holder_that_proved_the_address_still_blocks_with_a_support_pointer(
    settings, user, make_user, mailoutbox
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "SUPPORT_URL": "https://help.example.com/"}
    revert = take_over(user, mailoutbox, client_for(user))
    make_user("bob", "alice@example.com", verified=True)

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 409
    assert 'href="https://help.example.com/"' in response.text
    assert email_of(reloaded(user)) == "mallory@example.com"


@pytest.fixture
def unproven_events():
    events = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    signals.unproven_holder_released.connect(receiver)
    yield events
    signals.unproven_holder_released.disconnect(receiver)


@pytest.fixture
def login_name_is_the_address(monkeypatch):
    """The address is the login name: the store cannot blank it (``can_release`` False)."""
    monkeypatch.setattr(get_user_model(), "USERNAME_FIELD", "email_address")


hook_calls = []


def refusing_hook(user, address):
    hook_calls.append((user.pk, address))
    return False


def recording_hook(user, address):
    hook_calls.append((user.pk, address))
    return unproven.release_unproven_holder(user, address)


def test_an_unproved_login_name_holder_is_retired_and_the_revert_goes_through(
    login_name_is_the_address, user, make_user, mailoutbox, unproven_events, released_events
):
    revert = take_over(user, mailoutbox, client_for(user))
    squatter = make_user("squatter", "Alice@example.com", verified=False)
    squatter_session = client_for(squatter)

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"
    assert is_email_verified(reloaded(user))
    squatter = reloaded(squatter)
    assert not squatter.is_active
    placeholder = email_of(squatter)
    assert placeholder.startswith(f"unclaimed-{squatter.pk}-")
    assert placeholder.endswith("@unclaimed.invalid")
    assert not is_email_verified(squatter)
    assert not is_logged_in(squatter_session)
    [event] = unproven_events
    assert event["user"].pk == squatter.pk
    assert event["address"] == "alice@example.com"
    assert event["taken_by"].pk == user.pk
    assert released_events == []  # not blanked: the other signal is for that


def test_placeholders_never_collide(make_user):
    first = make_user("first", "first@example.com")
    assert unproven.placeholder_address(first) != unproven.placeholder_address(first)
    assert unproven.placeholder_address(first).split("-")[1] == str(first.pk)


def test_the_release_hook_is_called_with_the_holder_and_the_address(
    settings, login_name_is_the_address, user, make_user, mailoutbox, unproven_events
):
    revert = take_over(user, mailoutbox, client_for(user))
    squatter = make_user("squatter", "alice@example.com", verified=False)
    settings.VERIFIED_EMAIL = {
        "RESEND_COOLDOWN": 0,
        "RELEASE_UNPROVEN_HOLDER": "tests.test_takeover.recording_hook",
    }
    hook_calls.clear()

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 200
    assert hook_calls == [(squatter.pk, "alice@example.com")]
    assert email_of(reloaded(user)) == "alice@example.com"
    assert [event["user"].pk for event in unproven_events] == [squatter.pk]


def test_a_hook_that_refuses_refuses_the_revert_and_changes_nothing(
    settings, login_name_is_the_address, user, make_user, mailoutbox, unproven_events
):
    revert = take_over(user, mailoutbox, client_for(user))
    squatter = make_user("squatter", "alice@example.com", verified=False)
    settings.VERIFIED_EMAIL = {
        "RESEND_COOLDOWN": 0,
        "RELEASE_UNPROVEN_HOLDER": "tests.test_takeover.refusing_hook",
    }
    hook_calls.clear()
    before = snapshot()

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 409
    assert hook_calls == [(squatter.pk, "alice@example.com")]
    assert snapshot() == before
    assert unproven_events == []


def test_without_a_hook_an_address_that_is_the_login_name_is_never_released(
    settings, login_name_is_the_address, user, make_user, mailoutbox
):
    revert = take_over(user, mailoutbox, client_for(user))
    squatter = make_user("squatter", "alice@example.com", verified=False)
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "RELEASE_UNPROVEN_HOLDER": None}

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 409
    assert email_of(reloaded(squatter)) == "alice@example.com"
    assert reloaded(squatter).is_active
    assert email_of(reloaded(user)) == "mallory@example.com"


def test_a_holder_that_proved_the_login_name_still_blocks_whatever_the_hook(
    login_name_is_the_address, user, make_user, mailoutbox, unproven_events
):
    revert = take_over(user, mailoutbox, client_for(user))
    make_user("bob", "alice@example.com", verified=True)

    response = Client().post(revert, {"password": PASSWORD})

    assert response.status_code == 409
    assert email_of(reloaded(user)) == "mallory@example.com"
    assert unproven_events == []


def test_a_completion_retires_an_unproved_login_name_holder(
    login_name_is_the_address, user, make_user, mailoutbox, unproven_events
):
    squatter = make_user("squatter", "taken@example.com", verified=False)
    client = client_for(user)
    assert request_change(client, "taken@example.com").status_code == 302
    Client().post(link_path(mailoutbox[-1], to="alice@example.com"))

    response = client.post(link_path(mailoutbox[-1], to="taken@example.com"))

    assert response.status_code == 302
    assert email_of(reloaded(user)) == "taken@example.com"
    assert not reloaded(squatter).is_active
    assert [event["user"].pk for event in unproven_events] == [squatter.pk]


def test_a_completion_takes_the_address_from_an_unproved_holder(
    user, make_user, mailoutbox, released_events
):
    squatter = make_user("squatter", "taken@example.com", verified=False)
    client = client_for(user)
    assert request_change(client, "taken@example.com").status_code == 302
    Client().post(link_path(mailoutbox[-1], to="alice@example.com"))

    response = client.post(link_path(mailoutbox[-1], to="taken@example.com"))

    assert response.status_code == 302
    assert email_of(reloaded(user)) == "taken@example.com"
    assert email_of(reloaded(squatter)) == ""
    assert [event["user"].pk for event in released_events] == [squatter.pk]


# Verification supersedes a single-link change ------------------------------


def test_verifying_the_address_supersedes_a_pending_single_link_change(make_user, mailoutbox):
    user = make_user(verified=False)
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    single_link = link_path(mailoutbox[-1], to="new@example.com")
    flows.send_verification(reloaded(user), base_url=BASE_URL)

    flows.confirm_verification(token_in(mailoutbox[-1]))

    assert EmailChange.objects.get().status == "superseded"
    assert Client().post(single_link).status_code == 400
    assert email_of(reloaded(user)) == "alice@example.com"


# A change request racing a revert or deny ----------------------------------


def test_a_request_checked_against_a_password_retired_meanwhile_is_refused(user, mailoutbox):
    stale = reloaded(user)  # loaded before the owner's deny retired the password
    flows.retire_access(reloaded(user))

    with pytest.raises(flows.request_change.__globals__["WrongPassword"]):
        flows.request_change(stale, "mallory@example.com", PASSWORD, base_url=BASE_URL)
    assert not EmailChange.objects.exists()


# What an attacker holding one thing gets (docs/security.md) ----------------


def test_attacker_with_the_password_only_is_stopped_by_the_old_address(user, mailoutbox):
    # They log in with it and ask for the change: the link goes to the old
    # address, whose owner refuses it; the password and the session die.
    intruder = Client()
    assert intruder.login(username="alice", password=PASSWORD)
    request_change(intruder, "mallory@example.com")
    [link] = mailoutbox
    assert link.to == ["alice@example.com"]

    Client().post(link_path(link), {"deny": "1"})

    assert not is_logged_in(intruder)
    assert not can_log_in(user)
    assert email_of(reloaded(user)) == "alice@example.com"


def test_attacker_with_a_session_only_cannot_start_a_change(user, mailoutbox):
    intruder = client_for(user)

    response = request_change(intruder, "mallory@example.com", password="guess")

    assert response.status_code == 200
    assert "Your password was entered incorrectly" in response.text
    assert mailoutbox == []
    assert not EmailChange.objects.exists()


def test_attacker_with_the_old_mailbox_only_can_refuse_but_not_move(user, mailoutbox):
    # A change the owner asked for: the old mailbox confirms its step, which
    # only sends the last link to the NEW address; the account stays put.
    request_change(client_for(user), "owner.new@example.com")
    Client().post(link_path(mailoutbox[-1], to="alice@example.com"))
    assert mailoutbox[-1].to == ["owner.new@example.com"]
    assert email_of(reloaded(user)) == "alice@example.com"
    # And with no change pending, the old mailbox has no link at all.
    assert not [m for m in mailoutbox if links_in(m, REVERT_PAGE)]


def test_attacker_with_the_new_mailbox_only_gets_no_link(user, mailoutbox):
    # Nobody with the password asked: nothing is ever sent to it. Even when
    # the owner asks, the new address hears only after the old one confirmed.
    request_change(client_for(user), "mallory@example.com")
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert EmailChange.objects.get().status == "awaiting_old"


def test_attacker_with_password_and_session_is_undone_by_the_revert(make_user, mailoutbox):
    # The worst case: an unverified old address (an account from before
    # adoption) lets them complete the single-link change; the old address
    # still gets the notice, and its revert takes everything back.
    user = make_user(verified=False)
    intruder = client_for(user)
    revert = take_over(user, mailoutbox, intruder)
    assert email_of(reloaded(user)) == "mallory@example.com"

    assert Client().post(revert, {"password": PASSWORD}).status_code == 200

    assert email_of(reloaded(user)) == "alice@example.com"
    assert not is_logged_in(intruder)
    assert not can_log_in(user)
    # The account's links from the intruder's time are dead too.
    assert tokens.fingerprint(reloaded(user), with_verified_state=False)
