"""What the tests share, imported by name: conftest.py holds fixtures only.

The links in sent mail are read here and nowhere else: ``links_in`` finds
them, and every other reader (``link_in``, ``link_path``, ``token_in``,
``revert_token_in``) goes through it. The same for one-time codes:
``codes_in``, and ``code_in`` through it.
"""

import contextvars
import json
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from django_verified_email import emails, flows
from django_verified_email.models import (
    EmailChange,
    VerifiedEmailProfile,
    keeps_own_state,
    users_with_state,
)
from django_verified_email.stores import get_store

PASSWORD = "correct horse battery staple"
BASE_URL = "http://testserver"

#: The tenant a multi-tenant host serves the request for (``tenant_users``):
#: its users' names start with it.
CURRENT_TENANT = contextvars.ContextVar("current_tenant", default=None)


@contextmanager
def serving(tenant):
    """Serve ``tenant`` in the block, as a multi-tenant host's middleware would."""
    token = CURRENT_TENANT.set(tenant)
    try:
        yield
    finally:
        CURRENT_TENANT.reset(token)


# The pages an emailed link opens, by the path segment before the token.
CONFIRM_PAGES = ("verify", "change/confirm")
REVERT_PAGE = ("change/revert",)
SET_PASSWORD_PAGE = ("change/set-password",)
STOP_PAGE = ("change/stop",)
KEEP_PAGE = ("change/keep",)
ANY_PAGE = (*CONFIRM_PAGES, *REVERT_PAGE, *STOP_PAGE)
# A one-time code as emails show it: 123-456.
CODE_RE = re.compile(r"(?<![\w-])(\d{3}-\d{3})(?![\w-])")
LINK_RE = re.compile(
    r"https?://[^\s\"'<>]+/(verify|change/confirm|change/revert|change/set-password|change/stop|change/keep)/"
    r"([^\s\"'<>/]+)/"
)


# Users and clients


def email_of(user):
    return getattr(user, user.get_email_field_name())


def reloaded(user):
    """The user as the database has it now."""
    return get_user_model()._default_manager.get(pk=user.pk)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def with_new_password(user, password=PASSWORD):
    """The user after its owner chose a new password (a revert or deny retires the old one)."""
    user = reloaded(user)
    user.set_password(password)
    user.save()
    return user


def later(seconds):
    """Travel ``seconds`` ahead, with the clock standing still there."""
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def error_report(caplog):
    """Text and HTML of the report AdminEmailHandler (or a tracker) sends for the logged 500."""
    [record] = [r for r in caplog.records if r.name == "django.request"]
    report = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    return report.get_traceback_text(), report.get_traceback_html()


def no_cooldown(settings, **more):
    """Settings for tests that send several links in a row."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, **more}


def fill_tables(rows, password=PASSWORD):
    """``rows`` other users, each with one change in some status (query budget, benchmark)."""
    User = get_user_model()
    field = User.get_email_field_name()
    hashed = make_password(password)
    verified = {"is_email_verified": True} if keeps_own_state(User) else {}
    users = User.objects.bulk_create(
        User(username=f"other{i}", password=hashed, **verified, **{field: f"other{i}@example.org"})
        for i in range(rows)
    )
    if not verified:
        VerifiedEmailProfile.objects.bulk_create(
            VerifiedEmailProfile(user=user, verified_address=f"other{i}@example.org")
            for i, user in enumerate(users)
        )
    statuses = list(EmailChange.Status)
    EmailChange.objects.bulk_create(
        EmailChange(
            user=user,
            old_email=f"other{i}@example.org",
            new_email=f"other{i}.new@example.org",
            status=statuses[i % len(statuses)],
            link_generation=1,
        )
        for i, user in enumerate(users)
    )


def run_at_once(*calls, timeout=30):
    """Run each call in its own thread (own connection), released together.

    Returns one ("ok", value) or ("error", exception) per call, in order.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except Exception as exc:  # the caller asserts on it
            results[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing call hung (deadlock?)"
    return results


# The links in sent mail


def links_in(message, pages=CONFIRM_PAGES):
    """The links to ``pages`` in a message's text and HTML bodies, in order, each once.

    ``message`` is an EmailMessage, or anything with ``body`` (and maybe
    ``alternatives``) such as a message read back from the services' mailbox.
    """
    texts = [message.body]
    for body, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            texts.append(body)
    found = (match for text in texts for match in LINK_RE.finditer(text))
    return list(dict.fromkeys(match[0] for match in found if match[1] in pages))


def link_in(message, to=None, pages=CONFIRM_PAGES):
    """The one link to ``pages`` in ``message``, checking who it went to."""
    if to is not None:
        assert message.to == [to], message.to
    links = links_in(message, pages)
    assert len(links) == 1, links
    return links[0]


def path_of(link):
    return re.sub(r"^https?://[^/]+", "", link)


def page_of(link):
    """Which page a link opens: one of ``ANY_PAGE``."""
    return LINK_RE.search(link)[1]


def token_of(link):
    """The token of a link or of its path."""
    return link.rstrip("/").rsplit("/", 1)[-1]


def link_path(message, to=None, pages=CONFIRM_PAGES):
    """The path of the one link in ``message``, checking who it went to."""
    return path_of(link_in(message, to, pages))


def token_in(message, to=None, pages=CONFIRM_PAGES):
    """The token of the one link in ``message``, checking who it went to."""
    return token_of(link_in(message, to, pages))


def revert_token_in(message, to=None):
    """The token of the "this wasn't me" link in the notice of a completed change."""
    return token_in(message, to, REVERT_PAGE)


def stop_token_in(message, to=None):
    """The token of the "stop this change" link a recovery sends the old address."""
    return token_in(message, to, STOP_PAGE)


def codes_in(message):
    """The one-time codes in a message's text and HTML bodies, in order, each once."""
    texts = [message.body]
    for body, mimetype in getattr(message, "alternatives", []):
        if mimetype == "text/html":
            texts.append(body)
    # Links are left out: a token may hold digits that look like a code.
    found = (match[1] for text in texts for match in CODE_RE.finditer(LINK_RE.sub("", text)))
    return list(dict.fromkeys(found))


def code_in(message, to=None):
    """The one code in ``message`` (the same in both bodies), checking who it went to."""
    if to is not None:
        assert message.to == [to], message.to
    codes = codes_in(message)
    assert len(codes) == 1, codes
    return codes[0]


def kind_of(message):
    """The kind (a key of ``emails.KINDS``) of a message the app sent.

    Read from the template it was built from, not its subject: the wording
    and the site name in subjects may change, the kind does not.
    """
    kinds = [kind for kind in emails.KINDS if emails.template_name(kind) == message.template_name]
    assert len(kinds) == 1, message.template_name
    return kinds[0]


def revert_path(token):
    return f"/account/email/change/revert/{token}/"


def set_password_token_in(message, to=None):
    """The token of the "set a new password" link in the email confirming a revert or deny."""
    return token_in(message, to, SET_PASSWORD_PAGE)


def set_password_path(token):
    return f"/account/email/change/set-password/{token}/"


def is_logged_in(client):
    return client.get(reverse("verified_email:status")).status_code == 200


def can_log_in(user, password=PASSWORD):
    return Client().login(username=user.username, password=password)


# Steps through the HTML pages


def url(name, **kwargs):
    return reverse(f"verified_email:{name}", kwargs=kwargs or None)


def request_change(client, new_email, password=PASSWORD, **extra):
    return client.post(url("change"), {"new_email": new_email, "password": password}, **extra)


def send_verification(client, **extra):
    return client.post(url("verify-send"), **extra)


# Steps through the flows


def complete_dual_change(user, new_email, mailoutbox):
    """Run the dual-link flow to its end; returns the notice sent to the old address."""
    sent_before = len(mailoutbox)
    flows.request_change(user, new_email, PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)
    [notice] = [m for m in mailoutbox[sent_before:] if links_in(m, REVERT_PAGE)]
    return notice


# Steps through the JSON API (tests/api)


def api_url(name):
    return reverse(f"verified_email_api:{name}")


def call(client, name, body=None, *, method="post", **extra):
    """Call an API endpoint with a JSON body (a dict or list) or raw text (a str)."""
    if method in ("get", "head"):
        return getattr(client, method)(api_url(name), **extra)
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    content_type = extra.pop("content_type", "application/json")
    return getattr(client, method)(api_url(name), body or "", content_type=content_type, **extra)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "detail"}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"]
    return body


def api_request_change(client, new_email="alice.new@example.com", password=PASSWORD):
    return call(client, "change", {"new_email": new_email, "password": password})


def api_confirm_change(client, token):
    return call(client, "change-confirm", {"token": token})


def snapshot():
    """The rows a refused request must leave as they were."""
    store = get_store()
    users = [
        (user.pk, email_of(user), store.is_verified(user), store.verified_at(user), user.password)
        for user in users_with_state().order_by("pk")
    ]
    changes = list(
        EmailChange.objects.order_by("pk").values_list(
            "pk", "status", "link_generation", "link_sent_at"
        )
    )
    return users, changes


EXAMPLE_PROJECT = Path(__file__).resolve().parent.parent / "example_project"


def example_manage(*args, env, timeout=300):
    """Run the example project's ``manage.py``; its stdout, or the test fails with its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def verified_at(user):
    """When the user's address was verified, as the address store says (None if not)."""
    return get_store().verified_at(user)


def move_counter(user, *, end_sessions):
    """Move the user's security counter through the address store, as a flow does."""
    with transaction.atomic():
        locked = get_store().lock_user(user.pk)
        get_store().move_security_counter(locked, end_sessions=end_sessions)


def mark_verified_at(user, when):
    """Mark the user's address verified as of ``when``, through the address store."""
    with transaction.atomic():
        assert get_store().mark_verified(get_store().lock_user(user.pk), when)


def save_verified(user):
    """Save the user, its (new) address marked verified, as a data import would."""
    if keeps_own_state(type(user)):
        user.mark_email_verified()
        user.save()
    else:
        user.save()
        mark_verified_at(user, timezone.now())


def security_counter(user):
    """The user's security counter, as the address store keeps it."""
    return get_store().security_counter(user)
