"""Steps the browser tests share: reading the example project's outbox (the one way
they find an email's link) and asking for a change from the email settings."""

from playwright.sync_api import expect

OUTBOX_LINK = '[data-testid="outbox-link"]'


def messages_to(page, address):
    """The outbox's messages to ``address``, newest first."""
    return page.locator(f'[data-testid="outbox-message"][data-to="{address}"]')


def open_outbox(page):
    page.locator("#nav-outbox").click()
    expect(page.get_by_role("heading", name="Outbox", exact=True)).to_be_visible()


def follow_single_link(page, address, selector):
    """Click the one matching link in the emails to ``address``; return its URL."""
    link = messages_to(page, address).locator(selector)
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(href)
    return href


def open_newest_link(page, live_url, address, fragment, *, last=False):
    """Open the link containing ``fragment`` in the newest email to ``address``.

    An email may carry more than one matching link (the button and the link
    written out, or "Confirm" beside "This wasn't me"): the first is taken,
    or the last with ``last``.
    """
    page.goto(f"{live_url}/outbox/")
    link = messages_to(page, address).first.locator(f'{OUTBOX_LINK}[href*="{fragment}"]')
    expect(link.first).to_be_visible()
    href = (link.last if last else link.first).get_attribute("href")
    page.goto(href)
    return href


def ask_for_change(page, new_email, password):
    """From any page of the example project: open the change form and send it."""
    page.locator("#nav-email-settings").click()
    page.locator("#verified-email-page").get_by_role(
        "link", name="Change your email address"
    ).click()
    page.locator("#id_new_email").fill(new_email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Send the confirmation link").click()
