"""The allauth host in a real browser: sign up with allauth (mandatory verification,
allauth's confirmation link), change the address with the dual-link flow on this
app's pages, then undo it from the old address's "this wasn't me" link, checking
what the user sees and allauth's EmailAddress rows at each step.

Served by pytest-django's ``live_server`` on the allauth host's settings and
database; mail is read from the in-process outbox. Run by the tox env
``allauth`` with VE_BROWSER_TESTS=1 (``scripts/test-browser``); skipped
otherwise, and in every run without Playwright.
"""

import os
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from tests.helpers import link_in, revert_token_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("VE_BROWSER_TESTS") != "1", reason="a real browser: VE_BROWSER_TESTS=1"
    ),
]

CHROMIUM = os.environ.get("VE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
ACTION_TIMEOUT_MS = 10_000

USERNAME = "browser-alice"
PASSWORD = "a-long-wallet-passphrase-4711"
OLD = "alice@wallet.example"
NEW = "alice.new@wallet.example"
ALLAUTH_CONFIRM = re.compile(r"https?://[^\s\"<>]+/accounts/confirm-email/[^\s\"<>/]+/")


@pytest.fixture
def page(settings, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    settings.ALLOWED_HOSTS = ["*"]
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    # Playwright's sync API runs an event loop in this thread; the ORM reads
    # below are plain synchronous ones between its calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def rows(user):
    return sorted(
        EmailAddress.objects.filter(user=user).values_list("email", "primary", "verified")
    )


def newest_to(mailoutbox, address):
    return [message for message in mailoutbox if message.to == [address]][-1]


def test_allauth_signup_then_dual_link_change_then_revert(page, live_server, mailoutbox):
    from playwright.sync_api import expect

    base = live_server.url

    # Sign up with allauth: mandatory verification, nobody is signed in yet.
    page.goto(f"{base}/accounts/signup/")
    page.locator("#id_email").fill(OLD)
    page.locator("#id_username").fill(USERNAME)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("form[action*='signup'] [type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    user = get_user_model().objects.get(username=USERNAME)
    assert rows(user) == [(OLD, True, False)]

    # allauth's confirmation link, from the outbox: a page, then its button.
    [link] = ALLAUTH_CONFIRM.findall(newest_to(mailoutbox, OLD).body)
    page.goto(link)
    page.locator("form[action*='confirm-email'] [type=submit]").click()
    assert rows(user) == [(OLD, True, True)]

    # Signed in (allauth continues the login of the sign-up, or asks for it).
    page.goto(f"{base}/account/email/change/")
    if "/accounts/login/" in page.url:
        page.locator("#id_login").fill(OLD)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("form[action*='login'] [type=submit]").click()
        page.goto(f"{base}/account/email/change/")
    expect(page.get_by_role("heading", name="Change your email address")).to_be_visible()
    expect(page.get_by_text(f"Your current address is {OLD}.")).to_be_visible()

    # Ask for the change: the OLD address is asked first, the new one gets nothing.
    sent = len(mailoutbox)
    page.locator("#id_new_email").fill(NEW)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Send the confirmation link").click()
    expect(page.locator("#ve-pending")).to_contain_text(f"New address: {NEW}")
    expect(page.locator("#ve-pending")).to_contain_text("Step 1 of 2")
    assert [m.to for m in mailoutbox[sent:]] == [[OLD]]
    assert rows(user) == [(OLD, True, True)]

    # Step 1: the old address confirms.
    page.goto(link_in(newest_to(mailoutbox, OLD)))
    expect(page.get_by_role("heading", name="Confirm the email change")).to_be_visible()
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible()
    assert rows(user) == [(OLD, True, True)]

    # Step 2: the new address confirms: one row, the new address, primary and verified.
    page.goto(link_in(newest_to(mailoutbox, NEW)))
    expect(page.get_by_role("heading", name="Confirm the email change")).to_be_visible()
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.goto(f"{base}/account/email/")
    expect(page.get_by_text(NEW).first).to_be_visible()
    assert rows(user) == [(NEW, True, True)]

    # "This wasn't me" from the old address's notice, with the password: undone at once.
    token = revert_token_in(newest_to(mailoutbox, OLD))
    page.goto(f"{base}/account/email/change/revert/{token}/")
    page.locator("#ve-revert-password").fill(PASSWORD)
    page.get_by_role("button", name="This wasn't me: undo the change").click()
    expect(page.get_by_role("heading", name="The email change was undone")).to_be_visible()
    assert rows(user) == [(OLD, True, True)]
    user.refresh_from_db()
    assert user.email_address == OLD
