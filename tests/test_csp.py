"""The pages under a strict Content Security Policy (Django 6.0+'s own).

Every inline <style> or <script> carries the response's nonce, and nothing
else is inline (no style="…", no on…= handler), so a policy without
'unsafe-inline' blocks nothing of ours. On Django 5.2, which has no CSP, the
pages carry no nonce at all.
"""

import re
from html.parser import HTMLParser

import django
import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import (
    PASSWORD,
    complete_dual_change,
    later,
    link_path,
    request_change,
    revert_path,
    revert_token_in,
    send_verification,
    set_password_path,
    set_password_token_in,
    stop_token_in,
)

HAS_CSP = django.VERSION >= (6, 0)
needs_csp = pytest.mark.skipif(
    not HAS_CSP, reason="Django's CSP (SECURE_CSP and its middleware) is new in Django 6.0"
)
NEW = "alice.new@example.com"


class InlineParts(HTMLParser):
    """Every <style> and <script> with its nonce, and every inline style or handler."""

    def __init__(self):
        super().__init__()
        self.blocks = []  # (tag, nonce or None)
        self.inline = []  # (tag, attribute)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self.blocks.append((tag, attrs.get("nonce")))
        for name in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append((tag, name))
        for name in ("href", "src", "action"):
            if (attrs.get(name) or "").strip().lower().startswith("javascript:"):
                self.inline.append((tag, name))


def inline_parts(response):
    parser = InlineParts()
    parser.feed(response.content.decode())
    return parser


def page_kinds(client, make_user, mailoutbox):
    """Yield (name, response) for every page the app renders."""
    user = make_user(verified=False)
    client.force_login(user)
    yield "status", client.get(reverse("verified_email:status"))
    yield "verify code", client.get(reverse("verified_email:verify-code"))
    send_verification(client)
    yield "verify link", Client().get(link_path(mailoutbox[-1]), follow=True)
    with later(2 * 86400):
        yield "expired link", Client().get(link_path(mailoutbox[-1]), follow=True)
    yield "invalid link", client.get("/account/email/verify/not-a-token/", follow=True)
    yield "throttled resend (error page)", client.post(reverse("verified_email:verify-send"))

    owner = make_user("bob", "bob@example.com")
    owner_client = Client()
    owner_client.force_login(owner)
    yield "change form", owner_client.get(reverse("verified_email:change"))
    mailoutbox.clear()
    request_change(owner_client, "bob.new@example.com")
    yield "change code", owner_client.get(reverse("verified_email:change-code"))
    [to_old] = [m for m in mailoutbox if m.to == ["bob@example.com"]]
    old_link = link_path(to_old)
    yield "change link", Client().get(old_link, follow=True)
    deny = Client().post(old_link, {"deny": "1"}, follow=True)
    yield "deny", deny
    set_password = set_password_path(
        set_password_token_in([m for m in mailoutbox if m.to == ["bob@example.com"]][-1])
    )
    yield "set password", Client().get(set_password, follow=True)

    notice = complete_dual_change(
        make_user("carol", "carol@example.com"), "c@example.com", mailoutbox
    )
    revert = revert_path(revert_token_in(notice))
    yield "revert", Client().get(revert, follow=True)

    mailoutbox.clear()
    lost = make_user("dave", "dave@example.com")
    lost_client = Client()
    lost_client.force_login(lost)
    lost_client.post(
        reverse("verified_email:change"),
        {"new_email": "dave.new@example.com", "password": PASSWORD, "old_email_lost": "on"},
    )
    [notice] = [m for m in mailoutbox if m.to == ["dave@example.com"]]
    stop = reverse("verified_email:change-stop", args=[stop_token_in(notice)])
    yield "stop", Client().get(stop, follow=True)


@pytest.fixture
def strict_csp(settings):
    from django.utils.csp import CSP

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
    ]
    settings.SECURE_CSP = {
        "default-src": [CSP.SELF],
        "style-src": [CSP.SELF, CSP.NONCE],
        "script-src": [CSP.SELF, CSP.NONCE],
        "form-action": [CSP.SELF],
    }


@needs_csp
@pytest.mark.parametrize("processor", [False, True], ids=["no csp processor", "csp processor"])
def test_every_page_carries_the_responses_nonce_on_all_it_has_inline(
    strict_csp, settings, client, make_user, mailoutbox, processor
):
    if processor:
        options = settings.TEMPLATES[0]["OPTIONS"]
        processors = [*options["context_processors"], "django.template.context_processors.csp"]
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "OPTIONS": {**options, "context_processors": processors}}
        ]
    seen = []
    for name, response in page_kinds(client, make_user, mailoutbox):
        assert response["Content-Type"].startswith("text/html"), name
        policy = response["Content-Security-Policy"]
        assert "unsafe-inline" not in policy
        parts = inline_parts(response)
        assert parts.inline == [], name
        assert parts.blocks, name  # the pages' own styles are there, not dropped
        [nonce] = set(re.findall(r"'nonce-([^']+)'", policy))
        assert parts.blocks == [(tag, nonce) for tag, _ in parts.blocks], name
        seen.append(name)
    assert len(seen) == 13


def test_without_a_csp_the_pages_carry_no_nonce(client, make_user, mailoutbox):
    # Django 5.2 (no CSP at all), or 6.x without its middleware.
    for name, response in page_kinds(client, make_user, mailoutbox):
        parts = inline_parts(response)
        assert parts.blocks == [("style", None)], name
        assert parts.inline == [], name
