import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client
from django.utils import timezone
from django.views.debug import ExceptionReporter

PASSWORD = "correct horse battery staple"
LINK_RE = re.compile(r"https?://[^\s\"'<>]+/(?:verify|change/confirm)/[^\s\"'<>/]+/")


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttles and lockouts live in the cache: no test may inherit another's.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def make_user(db):
    def make(username="alice", email="alice@example.com", verified=True, **extra):
        user = get_user_model().objects.create_user(
            username=username,
            password=PASSWORD,
            email_address=email,
            is_email_verified=verified,
            **extra,
        )
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def links_in(message):
    """The one-time links in a message, from its text and HTML bodies."""
    found = set(LINK_RE.findall(message.body))
    for content, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            found |= set(LINK_RE.findall(content))
    return found


def link_in(message):
    links = links_in(message)
    assert len(links) == 1, links
    return links.pop()


def path_of(link):
    return re.sub(r"^https?://[^/]+", "", link)


def email_of(user):
    return getattr(user, user.get_email_field_name())


def reloaded(user):
    """The user as the database has it now."""
    return get_user_model()._default_manager.get(pk=user.pk)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def later(seconds):
    """Travel ``seconds`` ahead, with the clock standing still there."""
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def error_report(caplog):
    """Text and HTML of the report AdminEmailHandler (or a tracker) sends for the logged 500."""
    [record] = [r for r in caplog.records if r.name == "django.request"]
    report = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    return report.get_traceback_text(), report.get_traceback_html()
