"""Pages and emails state the language their text comes out in.

The app has catalogues for English and Nepali only (src/.../locale). Asked
for Arabic, Django renders its English msgids: the page then says lang="en",
dir="ltr", and writes dates the English way, not Arabic's right-to-left.
"""

from datetime import datetime, timezone

import time_machine
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from django_verified_email import flows, languages
from django_verified_email.request_context import RequestContext
from tests.helpers import BASE_URL, PASSWORD

NO_CATALOGUE = "ar"  # Django knows it (right to left); the app has no catalogue for it
SUNDAY = datetime(2026, 11, 29, 10, 42, tzinfo=timezone.utc)


def test_a_page_in_a_language_without_a_catalogue_says_english(logged_in):
    with translation.override(NO_CATALOGUE):
        page = logged_in.get(reverse("verified_email:status")).content.decode()

    assert '<html lang="en" dir="ltr">' in page
    assert "Your email address" in page


def test_a_pages_dates_follow_its_text(db):
    page = Template(
        '{% extends "verified_email/base.html" %}{% block content %}{{ when }}{% endblock %}'
    )

    with translation.override(NO_CATALOGUE):
        html = page.render(Context({"when": SUNDAY}))

    assert "Nov. 29, 2026" in html
    with translation.override("ne"):
        assert 'lang="ne"' in page.render(Context({"when": SUNDAY}))


def test_an_email_in_a_language_without_a_catalogue_says_english(user, mailoutbox):
    with time_machine.travel(SUNDAY, tick=False), translation.override(NO_CATALOGUE):
        flows.request_change(
            user,
            "alice.new@example.com",
            PASSWORD,
            base_url=BASE_URL,
            context=RequestContext(ip="27.34.1.2", browser="Firefox", os="Android"),
        )

    [message] = mailoutbox
    [(html, _)] = message.alternatives
    assert '<html lang="en" dir="ltr">' in html
    for body in (message.body, html):
        assert "This was requested on Sunday 29 November 2026, 10:42 UTC" in body


def test_the_default_languages_catalogue_answers_when_the_active_one_has_none(settings, client):
    settings.LANGUAGE_CODE = "ne"
    settings.LOCALE_PATHS = []  # drops Django's cached catalogues, built with the old fallback
    with translation.override(NO_CATALOGUE):
        assert languages.rendered() == "ne"
    with translation.override("en-gb"):
        assert languages.rendered() == "en-gb"  # English, as asked: kept as it is
    with translation.override("ne"):
        assert languages.rendered() == "ne"


def test_a_catalogue_of_the_hosts_own_is_the_language_rendered(settings, monkeypatch):
    # A host that translated the app into Arabic (LOCALE_PATHS): Arabic it is.
    real_gettext = translation.gettext

    def host_catalogue(message):
        if message == languages.PROBE and translation.get_language() == NO_CATALOGUE:
            return "رسالة تلقائية من %(site_name)s."
        return real_gettext(message)

    monkeypatch.setattr(translation, "gettext", host_catalogue)
    with translation.override(NO_CATALOGUE):
        assert languages.rendered() == NO_CATALOGUE


def test_with_translation_off_nothing_is_stated():
    with translation.override(None):
        assert languages.rendered() is None
