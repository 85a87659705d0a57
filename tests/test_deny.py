""" "This wasn't me" at the old-address step (deny), and the new password after it."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from django_verified_email import emails, flows, signals
from django_verified_email.models import EmailChange, WrongCode
from tests.failing_mail import UNREACHABLE, use_mail_backend
from tests.helpers import (
    PASSWORD,
    SET_PASSWORD_PAGE,
    can_log_in,
    client_for,
    code_in,
    email_of,
    is_logged_in,
    later,
    link_path,
    links_in,
    reloaded,
    request_change,
    set_password_path,
    set_password_token_in,
    snapshot,
    token_of,
    url,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture
def denied_events():
    events = []

    def receiver(sender, **kwargs):
        events.append((sender, kwargs))

    signals.email_change_denied.connect(receiver)
    yield events
    signals.email_change_denied.disconnect(receiver)


@pytest.fixture
def attempt(user, mailoutbox, settings):
    """Someone with Alice's password and a session asked to move her account to them."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    intruder = client_for(user)
    assert request_change(intruder, "mallory@example.com").status_code == 302
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    return intruder, link_path(message)


def deny(path, client=None):
    return (client or Client()).post(path, {"deny": "1"})


def test_the_old_address_email_offers_this_wasnt_me(attempt, mailoutbox):
    [message] = mailoutbox
    html = message.alternatives[0][0]
    assert "This wasn&#x27;t me" in html or "This wasn't me" in html
    assert f"{attempt[1]}?deny=1" in html
    assert f"{attempt[1]}?deny=1" in message.body


@pytest.mark.parametrize("query", ["", "?deny=1"])
def test_the_page_shows_this_wasnt_me_beside_confirm_and_a_get_changes_nothing(
    attempt, user, query
):
    response = Client().get(attempt[1] + query)

    assert response.status_code == 200
    assert 'name="deny"' in response.text
    assert "This wasn't me" in response.text
    assert ">Confirm<" in response.text
    assert EmailChange.objects.get().status == "awaiting_old"
    assert can_log_in(user)


class _Forms(HTMLParser):
    """The page's title and its forms, each with its submit buttons in DOM order."""

    def __init__(self):
        super().__init__()
        self.title, self.forms, self._in_title, self._button = "", [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "form":
            self.forms.append({"fields": {}, "buttons": []})
        elif tag == "input" and attrs.get("type") == "hidden" and self.forms:
            self.forms[-1]["fields"][attrs.get("name")] = attrs.get("value")
        elif tag == "button" and attrs.get("type", "submit") == "submit":
            self._button = {"text": "", **attrs}
            self.forms[-1]["buttons"].append(self._button)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag == "button":
            self._button = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._button is not None:
            self._button["text"] += data


def test_the_refuse_link_leads_with_refusing_for_keyboard_and_hurried_users(attempt, user):
    path = attempt[1]
    page = _Forms()
    page.feed(Client().get(path + "?deny=1").text)

    # A hurried clicker: the title says refuse, and the first, primary button refuses.
    assert page.title.strip() == "Refuse the email change"
    first_form, *others = page.forms
    first_button = first_form["buttons"][0]
    assert first_form["fields"].get("deny") == "1"
    assert first_button["text"] == "This wasn't me"
    assert "ve-secondary" not in first_button.get("class", "")
    # A keyboard user: the focus starts on it, and Enter in that form posts
    # its first submit button, which refuses.
    assert "autofocus" in first_button
    [confirm] = [button for form in others for button in form["buttons"]]
    assert confirm["text"] == "Confirm"
    assert "ve-secondary" in confirm["class"]
    assert "autofocus" not in confirm
    # What the first form posts refuses the change.
    assert Client().post(path, first_form["fields"]).status_code == 200
    assert EmailChange.objects.get().status == "denied"


def test_the_plain_link_still_leads_with_confirming(attempt):
    page = _Forms()
    page.feed(Client().get(attempt[1]).text)

    assert page.title.strip() == "Confirm the email change"
    assert page.forms[0]["buttons"][0]["text"] == "Confirm"


def test_a_deny_closes_the_change_ends_every_session_and_retires_the_password(
    attempt, user, mailoutbox, denied_events
):
    intruder, path = attempt
    owner_here = client_for(user)

    response = deny(path, owner_here)

    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    change = EmailChange.objects.get()
    assert change.status == "denied"
    assert change.closed_at is not None
    stored = reloaded(user)
    assert email_of(stored) == "alice@example.com"
    assert not stored.has_usable_password()
    assert not can_log_in(user)
    # Every session, the one that clicked included.
    assert not is_logged_in(intruder)
    assert not is_logged_in(owner_here)
    # The page offers Django's SetPasswordForm, posting to a one-time link.
    assert 'name="new_password1"' in response.text
    assert 'name="new_password2"' in response.text
    assert 'action="/account/email/change/set-password/' in response.text
    [(sender, event)] = denied_events
    assert sender is type(stored)
    assert event["user"].pk == user.pk
    assert event["change"].pk == change.pk


def test_a_deny_posted_from_another_accounts_browser_leaves_that_session_alone(attempt, make_user):
    # A page of another site posts the intruder's own deny link from a
    # victim's browser (cookies with SameSite=None go along).
    victim = client_for(make_user("victim", "victim@example.com"))

    response = deny(attempt[1], victim)

    assert response.status_code == 200
    assert EmailChange.objects.get().status == "denied"
    assert "sessionid" not in response.cookies
    assert is_logged_in(victim)


def test_a_deny_from_a_browser_logged_in_as_the_account_empties_its_session(attempt, user):
    owner_here = client_for(user)

    response = deny(attempt[1], owner_here)

    assert response.status_code == 200
    # Flushed: the cookie is deleted at once, not only refused on the next request.
    assert response.cookies["sessionid"].value == ""
    assert not is_logged_in(owner_here)


def test_a_deny_tells_both_addresses_without_leaking_the_account(attempt, mailoutbox):
    deny(attempt[1])

    [_, to_old, to_new] = mailoutbox
    assert to_old.to == ["alice@example.com"]
    assert "mallory@example.com" in to_old.body
    assert set_password_token_in(to_old)
    assert to_new.to == ["mallory@example.com"]
    assert "refused" in to_new.body
    for leak in ("alice", "/account/email/"):
        assert leak not in to_new.body
        assert leak not in to_new.alternatives[0][0]


def test_the_form_on_the_deny_page_sets_a_new_password_once(attempt, user):
    response = deny(attempt[1])
    action = response.text.split('action="', 2)[1].split('"')[0]
    assert action.startswith("/account/email/change/set-password/")

    mismatch = Client().post(
        action, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"}
    )
    assert mismatch.status_code == 200
    assert "match" in mismatch.text  # the two fields did not match
    assert not reloaded(user).has_usable_password()

    done = Client().post(action, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 200
    assert "Your new password is set" in done.text
    assert can_log_in(user, NEW_PASSWORD)
    assert not can_log_in(user, PASSWORD)

    again = Client().post(action, {"new_password1": "another 1 pass!", "new_password2": "x"})
    assert again.status_code == 400
    assert can_log_in(user, NEW_PASSWORD)


def test_the_emailed_set_password_link_works_and_dies_with_the_pages(attempt, user, mailoutbox):
    deny(attempt[1])
    token = set_password_token_in(mailoutbox[1])

    page = Client().get(set_password_path(token))
    assert page.status_code == 200
    assert 'name="new_password1"' in page.text
    assert "no-store" in page["Cache-Control"]
    done = Client().post(
        set_password_path(token), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 200
    assert can_log_in(user, NEW_PASSWORD)
    assert Client().get(set_password_path(token)).status_code == 400


def test_an_email_built_after_the_new_password_is_set_carries_no_set_password_link(
    attempt, user, mailoutbox
):
    # A worker may build the deny email late: by then the owner chose a new
    # password on the page, and a token signed now would set it once more.
    deny(attempt[1])
    done = Client().post(
        set_password_path(flows.set_password_token(reloaded(user))),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 200
    change = EmailChange.objects.get(user=user)

    late = emails.build(
        emails.CHANGE_DENIED_OLD, user_id=user.pk, change_id=change.pk, base_url="http://testserver"
    )

    assert late is not None
    assert late.to == ["alice@example.com"]
    assert "You refused the request" in late.body
    assert links_in(late, SET_PASSWORD_PAGE) == []
    assert "set-password" not in late.body
    assert "set-password" not in late.alternatives[0][0]
    assert can_log_in(user, NEW_PASSWORD)


def test_the_set_password_link_expires_with_link_max_age(attempt, user, mailoutbox):
    deny(attempt[1])
    token = set_password_token_in(mailoutbox[1])

    with later(86400 + 1):
        response = Client().post(
            set_password_path(token),
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )

    assert response.status_code == 410
    assert not reloaded(user).has_usable_password()


def test_a_deny_works_once(attempt):
    assert deny(attempt[1]).status_code == 200
    assert deny(attempt[1]).status_code == 400
    assert Client().post(attempt[1]).status_code == 400


def test_the_new_address_link_cannot_deny(attempt, user, mailoutbox):
    Client().post(attempt[1])  # the old address confirms
    new_path = link_path(mailoutbox[-1], to="mallory@example.com")

    assert deny(new_path).status_code == 400

    assert EmailChange.objects.get().status == "awaiting_new"
    assert can_log_in(user)


def test_an_expired_deny_is_refused_as_expired(attempt, user):
    with later(86400 + 1):
        response = deny(attempt[1])
    assert response.status_code == 410
    assert EmailChange.objects.get().status == "awaiting_old"
    assert can_log_in(user)


def test_after_a_deny_the_requester_has_nothing(attempt, user, mailoutbox):
    intruder, path = attempt
    deny(path)

    # The password they used no longer works, and neither does their session.
    assert not can_log_in(user)
    assert request_change(intruder, "mallory@example.com").status_code == 302
    assert not is_logged_in(intruder)
    assert EmailChange.objects.count() == 1
    # No link they saw moves the account.
    for message in mailoutbox:
        for link in links_in(message):
            Client().post(link.replace("http://testserver", ""))
    assert email_of(reloaded(user)) == "alice@example.com"
    assert token_of(path)


def test_a_deny_whose_notices_fail_is_still_done_and_offers_the_new_password(
    attempt, user, settings
):
    # The mail server is down when the owner says "this wasn't me": the
    # account is taken back all the same, and the page still offers the form.
    intruder, path = attempt
    use_mail_backend(settings, UNREACHABLE)
    response = deny(path)
    assert response.status_code == 200
    assert 'name="new_password1"' in response.text
    assert EmailChange.objects.get().status == "denied"
    assert not can_log_in(user)
    assert not is_logged_in(intruder)


# Deny from any of the owner's old-step links (N16): a taker who resends, or
# asks again, cannot keep the owner's "This wasn't me" links dead.


def test_a_link_a_resend_replaced_still_denies_but_no_longer_confirms(attempt, user, mailoutbox):
    intruder, first = attempt
    assert intruder.post("/account/email/change/resend/").status_code == 302
    assert len(mailoutbox) == 2

    page = Client().get(first + "?deny=1")
    assert page.status_code == 200
    assert 'name="deny"' in page.text
    assert ">Confirm<" not in page.text
    assert Client().post(first).status_code == 400
    assert EmailChange.objects.get().status == "awaiting_old"

    assert deny(first).status_code == 200
    assert EmailChange.objects.get().status == "denied"
    assert not can_log_in(user)


def test_a_link_of_a_superseded_request_denies_the_accounts_open_change(
    attempt, user, mailoutbox, denied_events
):
    intruder, first = attempt
    assert request_change(intruder, "eve@example.com").status_code == 302
    superseded, current = EmailChange.objects.order_by("pk")
    assert (superseded.status, current.status) == ("superseded", "awaiting_old")

    page = Client().get(first)
    assert page.status_code == 200
    assert "eve@example.com" in page.text
    assert deny(first).status_code == 200

    current.refresh_from_db()
    superseded.refresh_from_db()
    assert (superseded.status, current.status) == ("superseded", "denied")
    assert not can_log_in(user)
    assert [event["change"].pk for _, event in denied_events] == [current.pk]
    assert "eve@example.com" in mailoutbox[-1].to
    # The newest link is spent with its change: nothing is left to confirm.
    assert Client().post(link_path(mailoutbox[1])).status_code == 400


def test_a_superseded_link_denies_nothing_once_no_change_is_open(attempt, user):
    intruder, first = attempt
    assert request_change(intruder, "eve@example.com").status_code == 302
    assert intruder.post("/account/email/change/cancel/").status_code == 302

    assert deny(first).status_code == 400
    assert can_log_in(user)


def test_an_old_link_of_a_confirmed_step_cannot_deny(attempt, user, mailoutbox):
    intruder, first = attempt
    assert intruder.post("/account/email/change/resend/").status_code == 302
    newest = link_path(mailoutbox[-1])
    assert Client().post(newest).status_code == 200  # the old address confirms

    assert deny(first).status_code == 400
    assert deny(newest).status_code == 400
    assert EmailChange.objects.get().status == "awaiting_new"
    assert can_log_in(user)


def test_a_replaced_link_that_expired_is_refused_as_expired(attempt, user):
    intruder, first = attempt
    assert intruder.post("/account/email/change/resend/").status_code == 302
    with later(86400 + 1):
        assert deny(first).status_code == 410
    assert can_log_in(user)


# "This wasn't me" with the old address's code ------------------------------


def wrong_code(code):
    digits = f"{(int(code.replace('-', '')) + 1) % 10**6:06d}"
    return f"{digits[:3]}-{digits[3:]}"


def deny_by_code(client, code):
    return client.post(url("change-code"), {"code": code, "deny": "1"})


def test_the_old_addresss_code_denies_the_change(attempt, mailoutbox, user, denied_events):
    intruder, _link = attempt
    code = code_in(mailoutbox[-1])
    owner = client_for(user)  # the owner, logged in on their phone

    response = deny_by_code(owner, code)

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert EmailChange.objects.get().status == "denied"
    assert not can_log_in(reloaded(user))  # the password in use is retired
    assert not is_logged_in(owner) and not is_logged_in(intruder)
    assert [m.to for m in mailoutbox[1:]] == [["alice@example.com"], ["mallory@example.com"]]
    [(_, event)] = denied_events
    assert event["user"].pk == user.pk
    # The page hands the mailbox's owner a new password, as the link's deny does.
    assert b'name="new_password1"' in response.content


def test_a_wrong_deny_code_is_refused_counted_and_changes_nothing(attempt, mailoutbox, user):
    intruder, _link = attempt
    code = code_in(mailoutbox[-1])
    before = snapshot()

    response = deny_by_code(intruder, wrong_code(code))

    assert response.status_code == 400
    assert b"This code is not right" in response.content
    assert snapshot() == before
    assert WrongCode.objects.filter(user_id=user.pk).count() == 1
    assert is_logged_in(intruder)
    assert can_log_in(reloaded(user))


@pytest.mark.parametrize("typed", ["", "12345", "abc-def", "9" * 100])
def test_a_deny_code_that_is_no_code_is_refused_cleanly(attempt, mailoutbox, user, typed):
    intruder, _link = attempt
    before = snapshot()

    response = deny_by_code(intruder, typed)

    assert response.status_code == 400
    assert snapshot() == before
    assert not WrongCode.objects.exists()


def test_the_old_code_cannot_deny_once_its_step_was_confirmed(attempt, mailoutbox, user):
    intruder, link = attempt
    code = code_in(mailoutbox[-1])
    assert Client().post(link).status_code == 200  # the old step confirmed

    response = deny_by_code(intruder, code)

    assert response.status_code == 410
    assert EmailChange.objects.get().status == "awaiting_new"
    assert can_log_in(reloaded(user))


def test_a_deny_code_needs_the_accounts_login(attempt, mailoutbox, user):
    code = code_in(mailoutbox[-1])

    response = deny_by_code(Client(), code)

    assert response.status_code == 302  # to the login page, the code kept
    assert EmailChange.objects.get().status == "awaiting_old"


def test_the_code_page_offers_deny_at_the_old_step_only(attempt, mailoutbox, user):
    intruder, link = attempt
    deny_button = b'name="deny" value="1"'
    assert deny_button in intruder.get(url("change-code")).content
    assert deny_button in intruder.get(url("status")).content

    Client().post(link)  # the old step confirmed: a deny is the revert's job now

    assert deny_button not in intruder.get(url("change-code")).content
    assert deny_button not in intruder.get(url("status")).content
