"""What a real browser sends: the HTML forms must work under it.

A page served with ``Referrer-Policy: no-referrer`` (as every token page is)
makes browsers send ``Origin: null`` with its forms' POSTs, and Django's CSRF
check refuses that origin. The test client sends no Origin by default, so
these tests send the one Chromium sends (the browser test, tests/browser,
runs the same journey in Chromium itself).
"""

import re

import pytest
from django.test import Client

from django_verified_email import is_email_verified
from tests.helpers import link_path, no_cooldown, reloaded, request_change, send_verification, url

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def browser():
    return Client(enforce_csrf_checks=True)


def submit_confirm_form(client, link):
    """Open the link and press the page's button, with the Origin a browser sends."""
    page = client.get(link)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    token = CSRF_INPUT.search(page.text).group(1)
    return client.post(link, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="null")


def test_the_verify_page_confirms_with_the_origin_a_browser_sends(make_user, mailoutbox):
    user = make_user(verified=False)
    client = Client()
    client.force_login(user)
    assert send_verification(client).status_code == 302
    link = link_path(mailoutbox[-1], to="alice@example.com")

    response = submit_confirm_form(browser(), link)

    assert response.status_code == 302
    assert is_email_verified(reloaded(user))


def test_both_change_pages_confirm_with_the_origin_a_browser_sends(user, mailoutbox, settings):
    no_cooldown(settings)
    client = Client()
    client.force_login(user)
    assert request_change(client, "alice.new@example.com").status_code == 302
    old_link = link_path(mailoutbox[-1], to="alice@example.com")

    response = submit_confirm_form(browser(), old_link)
    assert response.status_code == 200
    new_link = link_path(mailoutbox[-1], to="alice.new@example.com")
    response = submit_confirm_form(browser(), new_link)

    assert response.status_code == 302
    user = reloaded(user)
    assert user.email_address == "alice.new@example.com"
    assert is_email_verified(user)


@pytest.mark.parametrize("name", ["status", "change"])
def test_pages_without_a_token_keep_the_referrer_so_their_forms_pass_csrf(logged_in, name):
    # A no-referrer <meta> would make the change form and the status page's
    # buttons send "Origin: null", and every one of those POSTs would fail.
    response = logged_in.get(url(name))

    assert response.status_code == 200
    assert 'name="referrer"' not in response.text
    assert response.get("Referrer-Policy") != "no-referrer"
