"""A code typed by someone whose login ran out: kept in the session through the
login page, never in a URL, filled in on the code page after the login, tried
only by the user's click, for the account that logs in, once, and not after
``CODE_MAX_AGE``."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from django_verified_email import is_email_verified
from django_verified_email.models import EmailChange, OneTimeCode, WrongCode
from tests.helpers import (
    PASSWORD,
    client_for,
    code_in,
    email_of,
    later,
    link_path,
    no_cooldown,
    reloaded,
    request_change,
    send_verification,
    url,
)

NEW = "alice.new@example.com"
LOGIN_REQUIRED_MIDDLEWARE = "django.contrib.auth.middleware.LoginRequiredMiddleware"


def wrong(code):
    """A well-formed code that is not ``code``."""
    digits = code.replace("-", "")
    flipped = f"{(int(digits) + 1) % 10**6:06d}"
    return f"{flipped[:3]}-{flipped[3:]}"


def digits(code):
    return code.replace("-", "")


class Browser:
    """A logged-out browser that records every URL it is sent to."""

    def __init__(self):
        self.client = Client()
        self.urls = []

    def post(self, path, data):
        self.urls.append(path)
        response = self.client.post(path, data)
        if response.status_code in (301, 302):
            self.urls.append(response["Location"])
        return response

    def get(self, path):
        self.urls.append(path)
        return self.client.get(path)

    def log_in(self, user, login_redirect):
        """Log in on the page ``login_redirect`` leads to; return where the login sends on to."""
        parts = urlsplit(login_redirect)
        assert parts.path == reverse("login") == django_settings.LOGIN_URL
        [next_url] = parse_qs(parts.query)["next"]
        response = self.post(
            parts.path, {"username": user.username, "password": PASSWORD, "next": next_url}
        )
        assert response.status_code == 302, response.content
        return response["Location"]

    def assert_never_carried(self, code):
        for seen in self.urls:
            assert digits(code) not in seen.replace("-", ""), seen


@pytest.fixture
def unverified(make_user):
    return make_user("una", "una@example.com", verified=False)


@pytest.fixture
def alice_client(user):
    return client_for(user)


def filled_in(page, code):
    return f'value="{code}"'.encode() in page.content


def typed_logged_out(browser, name, code):
    response = browser.post(url(name), {"code": code})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?")
    return response["Location"]


# The code waits through the login ---------------------------------------------


def test_a_verification_code_typed_logged_out_is_filled_in_after_the_login(unverified, mailoutbox):
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    browser = Browser()

    login_redirect = typed_logged_out(browser, "verify-code", code)

    # Not tried: nothing counted, nothing verified.
    assert not is_email_verified(reloaded(unverified))
    assert OneTimeCode.objects.get().failures == 0
    assert WrongCode.objects.count() == 0
    next_url = browser.log_in(unverified, login_redirect)
    assert next_url == url("verify-code")
    page = browser.get(next_url)
    assert page.status_code == 200
    assert filled_in(page, code)
    assert "no-store" in page["Cache-Control"]
    # Filled in, not used: the user's click confirms.
    assert not is_email_verified(reloaded(unverified))

    assert browser.post(next_url, {"code": code}).status_code == 302
    assert is_email_verified(reloaded(unverified))
    browser.assert_never_carried(code)


def test_a_change_code_typed_logged_out_is_filled_in_after_the_login(
    user, alice_client, mailoutbox
):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1], to="alice@example.com")
    browser = Browser()

    next_url = browser.log_in(user, typed_logged_out(browser, "change-code", code))

    assert next_url == url("change-code")
    page = browser.get(next_url)
    assert filled_in(page, code)
    assert EmailChange.objects.get().status == "awaiting_old"
    assert browser.post(next_url, {"code": code}).status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"
    browser.assert_never_carried(code)


def test_the_code_box_of_a_link_page_keeps_its_code_for_the_changes_code_page(
    user, alice_client, mailoutbox
):
    # The "one more step" page a change link opened posts its box back to the
    # link: the login must not lead back there (the token would ride in ?next=),
    # so it leads to the change's code page, where the code waits.
    request_change(alice_client, NEW)
    old_link = link_path(mailoutbox[-1])
    browser = Browser()
    assert browser.post(old_link, {}).status_code == 200
    code = code_in(mailoutbox[-1], to=NEW)

    response = browser.post(old_link, {"code": code})

    assert response.status_code == 302
    assert EmailChange.objects.get().status == "awaiting_new"
    assert old_link not in response["Location"]
    next_url = browser.log_in(user, response["Location"])
    assert next_url == url("change-code")
    page = browser.get(next_url)
    assert filled_in(page, code)
    assert browser.post(next_url, {"code": code}).status_code == 302
    assert email_of(reloaded(user)) == NEW
    browser.assert_never_carried(code)


def test_a_code_page_keeps_the_code_under_login_required_middleware(
    settings, unverified, mailoutbox
):
    # A host that makes every page need a login would otherwise send the
    # visitor to the login page before the view could keep the code.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED_MIDDLEWARE]
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    browser = Browser()

    next_url = browser.log_in(unverified, typed_logged_out(browser, "verify-code", code))

    assert filled_in(browser.get(next_url), code)


def test_a_logged_out_get_still_just_leads_to_the_login(user):
    for name in ("verify-code", "change-code"):
        response = Client().get(url(name))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={url(name)}"


# What is not kept, or not shown --------------------------------------------------


def test_a_kept_code_is_shown_once(unverified, mailoutbox):
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    browser = Browser()
    next_url = browser.log_in(unverified, typed_logged_out(browser, "verify-code", code))

    assert filled_in(browser.get(next_url), code)
    assert not filled_in(browser.get(next_url), code)


def test_a_kept_code_is_not_shown_after_code_max_age(unverified, mailoutbox):
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    browser = Browser()
    login_redirect = typed_logged_out(browser, "verify-code", code)

    with later(900 + 1):
        page = browser.get(browser.log_in(unverified, login_redirect))

    assert page.status_code == 200
    assert not filled_in(page, code)


def test_a_kept_code_is_only_shown_on_its_own_page(user, alice_client, unverified, mailoutbox):
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    request_change(alice_client, NEW)
    browser = Browser()
    login_redirect = typed_logged_out(browser, "verify-code", code)
    browser.log_in(user, login_redirect)

    assert not filled_in(browser.get(url("change-code")), code)


def test_something_that_is_not_a_code_is_not_kept(unverified, mailoutbox):
    send_verification(client_for(unverified))
    browser = Browser()
    login_redirect = typed_logged_out(browser, "verify-code", "<b>x</b>")

    page = browser.get(browser.log_in(unverified, login_redirect))

    assert b"&lt;b&gt;" not in page.content
    assert b"<b>x</b>" not in page.content


def test_logging_out_drops_a_kept_code(unverified, mailoutbox):
    send_verification(client_for(unverified))
    code = code_in(mailoutbox[-1])
    browser = Browser()
    login_redirect = typed_logged_out(browser, "verify-code", code)
    browser.log_in(unverified, login_redirect)
    browser.client.logout()

    page = browser.get(browser.log_in(unverified, login_redirect))

    assert not filled_in(page, code)


# Tries: none before the login, counted after it -------------------------------------


def test_a_wrong_code_typed_logged_out_counts_only_once_confirmed(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])
    browser = Browser()

    next_url = browser.log_in(user, typed_logged_out(browser, "change-code", wrong(code)))

    assert WrongCode.objects.count() == 0
    assert OneTimeCode.objects.get().failures == 0
    assert filled_in(browser.get(next_url), wrong(code))
    response = browser.post(next_url, {"code": wrong(code)})
    assert response.status_code == 400
    assert WrongCode.objects.filter(user=user).count() == 1
    assert OneTimeCode.objects.get().failures == 1


# Another account logging in in that browser -------------------------------------------


def test_another_account_logging_in_gets_the_code_only_as_a_wrong_code_of_its_own(
    settings, make_user, user, alice_client, mailoutbox
):
    # The code is for the account it was sent to. Whoever logs in in this
    # browser may see the box filled in (they typed it, or saw it typed), but
    # only a click tries it, for their own account: one wrong code of theirs.
    no_cooldown(settings)
    bob = make_user("bob", "bob@example.com")
    request_change(client_for(bob), "bob.new@example.com")
    request_change(alice_client, NEW)
    alices_code = code_in(mailoutbox[-1], to="alice@example.com")
    browser = Browser()

    next_url = browser.log_in(bob, typed_logged_out(browser, "change-code", alices_code))
    response = browser.post(next_url, {"code": alices_code})

    assert response.status_code == 400
    assert WrongCode.objects.filter(user=bob).count() == 1
    assert not WrongCode.objects.filter(user=user).exists()
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert EmailChange.objects.get(user=bob).status == "awaiting_old"
    # Alice's code still works for Alice.
    assert alice_client.post(url("change-code"), {"code": alices_code}).status_code == 200
    assert EmailChange.objects.get(user=user).status == "awaiting_new"


def test_a_code_kept_from_a_link_page_is_only_filled_in_for_that_change(
    settings, make_user, user, alice_client, mailoutbox
):
    # The link says which change the code is for: another account logging in
    # in that browser never sees it, even with a change of its own waiting.
    no_cooldown(settings)
    bob = make_user("bob", "bob@example.com")
    request_change(alice_client, NEW)
    old_link = link_path(mailoutbox[-1])
    browser = Browser()
    browser.post(old_link, {})
    code = code_in(mailoutbox[-1], to=NEW)
    request_change(client_for(bob), "bob.new@example.com")
    login_redirect = browser.post(old_link, {"code": code})["Location"]

    page = browser.get(browser.log_in(bob, login_redirect))

    assert page.status_code == 200
    assert not filled_in(page, code)
    assert WrongCode.objects.count() == 0
    assert EmailChange.objects.get(user=user).status == "awaiting_new"


def test_a_forged_link_keeps_no_code(user, alice_client, mailoutbox):
    # The link pages take posts from anywhere (no CSRF check: see token_page);
    # only a genuine link may leave a code waiting in a browser's session.
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])
    browser = Browser()

    response = browser.post(url("change-confirm", token="forged"), {"code": code})

    assert response.status_code == 400
    browser.log_in(user, f"{reverse('login')}?next={url('change-code')}")
    assert not filled_in(browser.get(url("change-code")), code)
