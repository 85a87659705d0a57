"""The name emails call the site by, and how they read without one.

With ``SITE_NAME`` unset: the sites framework's name unless it is Django's
placeholder ``example.com``; else the host, unless it is an IP address or
``localhost``, which names nothing: "your account".
"""

import re

import pytest
from django.utils import translation

from django_verified_email import emails
from django_verified_email.rendering import render_blocks


@pytest.fixture
def sites(settings, monkeypatch):
    """The sites framework installed, its current site named as the test says."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sites"]
    from django.contrib.sites.models import Site

    def name(value):
        monkeypatch.setattr(Site.objects, "get_current", lambda: Site(name=value))

    return name


def test_the_sites_frameworks_name(sites):
    sites("Wallet Co")
    assert emails.site_name("http://127.0.0.1:8000") == "Wallet Co"


def test_djangos_placeholder_site_is_no_name(sites):
    sites("example.com")
    assert emails.site_name("https://wallet.example/") == "wallet.example"
    assert emails.site_name("http://127.0.0.1:8000/") == ""


def test_the_host_without_the_sites_framework():
    assert emails.site_name("https://wallet.example:8443/") == "wallet.example"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000",
        "http://127.0.0.1",
        "http://10.0.0.7:8000/",
        "http://[::1]:8000",
        "http://[2001:db8::1]/",
        "http://localhost:8000",
        "http://localhost",
        "http://LOCALHOST.:8000",
        "http://app.localhost:8000",
        None,
    ],
)
def test_an_ip_address_or_localhost_is_no_name(base_url):
    assert emails.site_name(base_url) == ""


def test_the_setting_wins(settings, sites):
    sites("Wallet Co")
    settings.VERIFIED_EMAIL = {"SITE_NAME": "Named"}
    assert emails.site_name("http://127.0.0.1:8000") == "Named"


def test_an_email_from_a_development_server_says_your_account(make_user):
    user = make_user(verified=False)
    message = emails.build(emails.VERIFY, user_id=user.pk, base_url="http://127.0.0.1:8000")

    assert message.subject == "Verify your email address"
    assert "so that your account can use it" in message.body
    assert "This message was sent automatically. Please do not reply." in message.body
    assert "127.0.0.1 " not in message.body


CONTEXT = {
    "link": "https://example.com/l/",
    "link_expires_in": "24 hours",
    "completes_in": "7 days",
    "recovery_delay": "7 days",
    "revert_max_age_days": 7,
    "reverted_at_text": "Sunday 29 November 2026, 10:42 UTC",
    "revert_due_at_text": "Sunday 6 December 2026, 10:42 UTC",
    "masked_new_email": "n***@example.com",
    "change": {"old_email": "old@example.com", "new_email": "new@example.com"},
}


@pytest.mark.parametrize("completed_by_id", [None, 1])
@pytest.mark.parametrize("closed_reason", ["address_taken", "changed"])
@pytest.mark.parametrize("kind", emails.KINDS)
def test_every_email_reads_well_without_a_name(kind, closed_reason, completed_by_id):
    change = {
        **CONTEXT["change"],
        "closed_reason": closed_reason,
        "completed_by_id": completed_by_id,
    }
    names = ["subject", "text_body", "html_body"]
    template = emails.template_name(kind)

    named = render_blocks(template, {**CONTEXT, "change": change, "site_name": "Wallet"}, names)
    nameless = render_blocks(template, {**CONTEXT, "change": change, "site_name": ""}, names)

    assert named["subject"].startswith("Wallet: ")
    assert "Wallet" not in "".join(nameless.values())
    text = "\n".join([nameless["subject"], nameless["text_body"]])
    html_text = re.sub(r"<[^>]*>", "", nameless["html_body"])
    for body in (text, html_text):
        assert not re.search(r"[^\s] {2,}[^\s]", body), body  # "your  account"
        assert not re.search(r"\s[.,:]", body), body  # "sent by ."
        assert not re.search(r"\ba account\b", body), body
        assert not body.startswith(":")
    assert nameless["text_body"] != named["text_body"].replace("Wallet", "")


def test_the_nepali_email_reads_well_without_a_name(make_user):
    user = make_user(verified=False)
    with translation.override("ne"):
        message = emails.build(emails.VERIFY, user_id=user.pk, base_url="http://localhost:8000")

    assert message.body.startswith("तपाईंको खाताले यो इमेल ठेगाना")
    assert "यो सन्देश स्वचालित रूपमा पठाइएको हो।" in message.body
