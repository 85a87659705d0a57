"""Every kind of email in the registry, in every shipped language: the site's
name in subject and body, and, for a kind that carries a link, the link
written out and when it expires.

Iterates over ``emails.KINDS``, so a kind added to the registry is checked
here without a new test.
"""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from django_verified_email import durations, emails
from django_verified_email.models import EmailChange
from tests.helpers import BASE_URL, links_in

LANGUAGES = ("en", "ne")


def html_of(message):
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def build(kind, make_user):
    """The message of ``kind``, for a user and change in the state it is due in."""
    row = emails.KINDS[kind]
    user = make_user(verified=row.due_in is not None or row.due is not None)
    if kind == emails.REAUTH_CODE:
        # Sent to an account without a password (a social login).
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if kind in (emails.CHANGE_REVERTED_OLD, emails.CHANGE_DENIED_OLD):
        # Sent once a revert or deny retired the password: their link sets a new one.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    change = None
    if row.due_in is not None:
        change = EmailChange.objects.create(
            user=user,
            old_email="alice@example.com",
            new_email="new.address@example.org",
            status=row.due_in,
            link_generation=1,
            old_confirmed_at=None,
        )
        if kind in (emails.CHANGE_REVERT_KEEP, emails.CHANGE_REVERT_SCHEDULED):
            # A revert asked for without a password: it waits.
            now = timezone.now()
            change.revert_scheduled_at = now
            change.revert_due_at = now + timedelta(days=7)
            change.save()
        change = EmailChange.objects.select_related("user").get(pk=change.pk)
    message = emails.build(kind, user_id=user.pk, change=change, base_url=BASE_URL)
    assert message is not None, f"{kind} is not due in the state built for it"
    return message


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", emails.KINDS)
def test_every_email_names_the_site_and_says_when_its_link_expires(
    kind, language, make_user, settings
):
    settings.VERIFIED_EMAIL = {"SITE_NAME": "Pocket Wallet"}
    with translation.override(language):
        message = build(kind, make_user)
        expires_in = durations.in_words(emails.KINDS[kind].link_max_age())

    assert message.subject.startswith("Pocket Wallet: ")
    assert "Pocket Wallet" in message.body
    assert "Pocket Wallet" in html_of(message)
    if emails.KINDS[kind].link is None:
        assert not links_in(message, pages=("verify", "change/confirm", "change/revert"))
        return
    # The old address's "This wasn't me" is the same link with ?deny=1.
    [written] = {match for match in _absolute_links(message.body) if not match.endswith("?deny=1")}
    # The link is written out in the HTML too, not only behind a button.
    assert html_of(message).count(f">{written}</a>") == 1
    assert expires_in in message.body
    assert expires_in in html_of(message)
    if language == "ne":
        assert "म्याद सकिन्छ" in message.body
    else:
        assert f"expires in {expires_in}." in message.body


def _absolute_links(text):
    return [word for word in text.split() if word.startswith(BASE_URL + "/")]


def test_the_expiry_follows_the_setting(make_user, settings):
    settings.VERIFIED_EMAIL = {"LINK_MAX_AGE": 900}
    message = build(emails.VERIFY, make_user)
    assert "This link works once and expires in 15 minutes." in message.body


def test_the_site_name_falls_back_to_the_sites_framework_then_the_host(settings, monkeypatch):
    assert emails.site_name("https://wallet.example/") == "wallet.example"

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sites"]
    from django.contrib.sites.models import Site

    monkeypatch.setattr(Site.objects, "get_current", lambda: Site(name="Wallet Co"))
    assert emails.site_name("https://wallet.example/") == "Wallet Co"
    settings.VERIFIED_EMAIL = {"SITE_NAME": "Named"}
    assert emails.site_name("https://wallet.example/") == "Named"


def test_the_notice_to_the_old_address_names_the_new_one_masked(make_user):
    message = build(emails.CHANGE_NOTICE_OLD, make_user)
    assert "to n•••@example.org." in message.body
    assert "new.address@example.org" not in message.body
    assert "new.address@example.org" not in html_of(message)


def test_the_completed_email_says_the_address_is_now_the_login(make_user, monkeypatch):
    message = build(emails.CHANGE_COMPLETED, make_user)
    assert "You now sign in with" not in message.body
    EmailChange.objects.all().delete()
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    monkeypatch.setattr(user_model, "USERNAME_FIELD", user_model.get_email_field_name())

    message = build(
        emails.CHANGE_COMPLETED,
        lambda **kw: make_user(username="carol", email="carol@example.com", **kw),
    )
    assert "You now sign in with new.address@example.org." in message.body
    assert "You now sign in with new.address@example.org." in html_of(message)


def test_support_url_is_in_every_footer_when_set(make_user, settings):
    settings.VERIFIED_EMAIL = {"SUPPORT_URL": "https://help.example/"}
    message = build(emails.VERIFY, make_user)
    assert "https://help.example/" in message.body
    assert '<a href="https://help.example/"' in html_of(message)
