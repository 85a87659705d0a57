"""The non-sync delivery modes without services: Django tasks' in-process
backends and Celery in eager mode.

The real workers and brokers are exercised by tests/services/.
"""

import datetime
import os
import smtplib
import subprocess
import sys
from importlib.util import find_spec
from io import StringIO

import pytest
import time_machine
from celery import Celery
from django.core import checks, mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone

from django_verified_email import checks as verified_email_checks
from django_verified_email import delivery, emails, flows, is_email_verified, signals, tasks
from django_verified_email.exceptions import DeliveryFailed
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    complete_dual_change,
    email_of,
    link_path,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    save_verified,
    send_verification,
    token_in,
    url,
)

from .failing_mail import LOCMEM, REFUSING, UNREACHABLE, use_mail_backend

# Django 6.x ships the tasks framework; on 5.2 the django-tasks backport does.
TASKS_PACKAGE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
DUMMY = f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"
IMMEDIATE = f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"
FLAKY = "tests.test_delivery.FlakyBackend"

BASE_URL = "https://accounts.example.com"
ID_ARGUMENTS = {"kind", "user_id", "change_id", "base_url"}


class FlakyBackend(LocmemBackend):
    """Fails the next ``failures`` sends, then delivers to the locmem outbox."""

    failures = 0
    attempts = 0

    def send_messages(self, email_messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(email_messages)


@pytest.fixture
def flaky(settings):
    FlakyBackend.failures = 0
    FlakyBackend.attempts = 0
    use_mail_backend(settings, FLAKY)
    return FlakyBackend


def use_tasks(settings, backend, **verified_email):
    settings.TASKS = {"default": {"BACKEND": backend}}
    settings.VERIFIED_EMAIL = {
        "DELIVERY": "tasks",
        "BASE_URL": BASE_URL,
        "RESEND_COOLDOWN": 0,
        **verified_email,
    }


def queued():
    """What the DummyBackend holds: the tasks enqueued so far."""
    return list(tasks.deliver_email.get_backend().results)


def run(task_result):
    """Be the worker: run one enqueued task as the backend would."""
    return task_result.task.call(*task_result.args, **task_result.kwargs)


def run_queued():
    backend = tasks.deliver_email.get_backend()
    results = list(backend.results)
    backend.clear()
    return [run(result) for result in results]


@pytest.fixture
def dummy_tasks(settings):
    use_tasks(settings, DUMMY)
    yield
    tasks.deliver_email.get_backend().clear()


@pytest.fixture
def immediate_tasks(settings):
    use_tasks(settings, IMMEDIATE)


@pytest.fixture
def eager_celery(settings):
    settings.VERIFIED_EMAIL = {"DELIVERY": "celery", "BASE_URL": BASE_URL, "RESEND_COOLDOWN": 0}
    app = Celery("verified_email_tests", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_store_eager_result = False
    app.set_current()
    try:
        yield app
    finally:
        app.close()


def confirm(client, path):
    response = client.post(path)
    assert response.status_code in (200, 302), response.content
    return response


# Django tasks ------------------------------------------------------------


def test_the_request_only_enqueues_ids(dummy_tasks, logged_in, user, mailoutbox):
    response = request_change(logged_in, "alice.new@example.com")

    assert response.status_code == 302
    assert mailoutbox == []
    change = EmailChange.objects.get(user=user)
    [task_result] = queued()
    assert task_result.args == []
    assert task_result.kwargs == {
        "kind": emails.CHANGE_CONFIRM_OLD,
        "user_id": user.pk,
        "change_id": change.pk,
        "base_url": BASE_URL,
    }


def test_nothing_is_enqueued_before_the_callers_transaction_commits(
    dummy_tasks, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
        assert queued() == []

    assert len(queued()) == 1


def test_a_rolled_back_change_enqueues_nothing(
    dummy_tasks, user, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
        raise RuntimeError("the caller's transaction fails")

    assert queued() == []
    assert not EmailChange.objects.exists()


def test_the_worker_builds_and_sends_the_link(dummy_tasks, logged_in, user, mailoutbox):
    request_change(logged_in, "alice.new@example.com")

    assert run_queued() == [True]

    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    path = link_path(message)
    assert path.startswith(url("change-confirm", token="x")[: -len("x/")])
    confirm(logged_in, path)
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_NEW


def test_the_link_uses_the_host_captured_by_the_request(settings, logged_in, mailoutbox):
    use_tasks(settings, DUMMY, BASE_URL=None)

    request_change(logged_in, "alice.new@example.com", HTTP_HOST="example.com")
    run_queued()

    [message] = mailoutbox
    assert "http://example.com/account/email/change/confirm/" in message.body


def test_the_whole_dual_link_flow_runs_through_the_tasks_backend(
    immediate_tasks, logged_in, user, mailoutbox
):
    request_change(logged_in, "alice.new@example.com")
    [to_old] = mailoutbox
    assert to_old.to == ["alice@example.com"]

    confirm(logged_in, link_path(to_old))
    to_new = mailoutbox[1]
    assert to_new.to == ["alice.new@example.com"]

    confirm(logged_in, link_path(to_new))

    user.refresh_from_db()
    assert user.email_address == "alice.new@example.com"
    assert is_email_verified(user)
    assert sorted(message.to[0] for message in mailoutbox[2:]) == [
        "alice.new@example.com",
        "alice@example.com",
    ]


def test_a_cancelled_change_sends_nothing(dummy_tasks, logged_in, user, mailoutbox):
    request_change(logged_in, "alice.new@example.com")
    logged_in.post(url("change-cancel"))

    assert run_queued() == [False]
    assert mailoutbox == []


def test_a_superseded_change_sends_only_the_newest_link(dummy_tasks, logged_in, mailoutbox):
    request_change(logged_in, "first@example.com")
    request_change(logged_in, "second@example.com")

    assert run_queued() == [False, True]
    [message] = mailoutbox
    confirm(logged_in, link_path(message))
    change = EmailChange.objects.get(status=EmailChange.Status.AWAITING_NEW)
    assert change.new_email == "second@example.com"


def test_the_link_expires_counting_from_the_workers_send(
    dummy_tasks, settings, logged_in, user, mailoutbox
):
    max_age = 3600
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "LINK_MAX_AGE": max_age}
    requested = timezone.now()
    with time_machine.travel(requested, tick=False) as traveller:
        request_change(logged_in, "alice.new@example.com")
        # The worker was down for most of the link's life.
        traveller.shift(datetime.timedelta(seconds=max_age - 60))
        run_queued()
        path = link_path(mailoutbox[0])

        # Past the request's time plus LINK_MAX_AGE, the link still works...
        traveller.shift(datetime.timedelta(seconds=120))
        assert logged_in.get(path).status_code == 200

        # ...until LINK_MAX_AGE after the worker sent it.
        traveller.shift(datetime.timedelta(seconds=max_age))
        assert logged_in.post(path).status_code == 410
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_OLD


def test_a_failed_send_is_enqueued_again_later(dummy_tasks, settings, logged_in, user):
    use_mail_backend(settings, REFUSING)
    request_change(logged_in, "alice.new@example.com")
    [first] = queued()
    tasks.deliver_email.get_backend().clear()

    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert run(first) is False

    [retry] = queued()
    assert retry.kwargs == {**first.kwargs, "attempt": 2}
    assert retry.task.run_after == now + datetime.timedelta(seconds=tasks.RETRY_DELAY)


def test_the_delay_between_attempts_doubles_up_to_a_bound():
    assert [tasks.retry_delay(attempt) for attempt in range(1, 9)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_the_last_attempt_fails_the_task(dummy_tasks, settings, logged_in, user, mailoutbox):
    use_mail_backend(settings, UNREACHABLE)
    request_change(logged_in, "alice.new@example.com")
    [first] = queued()
    tasks.deliver_email.get_backend().clear()

    with pytest.raises(ConnectionRefusedError):
        tasks.deliver_email.call(**first.kwargs, attempt=tasks.MAX_ATTEMPTS)
    assert queued() == []


@pytest.mark.parametrize("mode", ["immediate_tasks", "eager_celery"])
def test_a_retried_send_goes_out_once_the_server_answers(mode, request, flaky, logged_in):
    request.getfixturevalue(mode)
    flaky.failures = 2

    response = request_change(logged_in, "alice.new@example.com")

    assert response.status_code == 302
    assert flaky.attempts == 3
    [message] = mail.outbox
    confirm(logged_in, link_path(message, to="alice@example.com"))


def test_a_mail_server_down_does_not_fail_the_request(immediate_tasks, settings, logged_in, user):
    use_mail_backend(settings, UNREACHABLE)

    response = request_change(logged_in, "alice.new@example.com")

    assert response.status_code == 302
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_OLD


def test_a_queue_that_refuses_the_task_fails_the_request(dummy_tasks, monkeypatch, logged_in, user):
    def refuse(outgoing):
        raise ConnectionError("broker down")

    monkeypatch.setattr(delivery, "enqueue", refuse)

    response = request_change(logged_in, "alice.new@example.com")

    assert response.status_code == 503
    # Recorded all the same: resending tries the queue again.
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_OLD
    monkeypatch.undo()
    assert logged_in.post(url("change-resend")).status_code == 302
    assert len(queued()) == 1


def test_verification_sent_fires_when_the_worker_sends(dummy_tasks, make_user, client, mailoutbox):
    user = make_user(verified=False)
    client.force_login(user)
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    signals.verification_sent.connect(receiver)
    try:
        send_verification(client)
        assert received == []
        run_queued()
    finally:
        signals.verification_sent.disconnect(receiver)

    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    [sent] = received
    assert sent["user"].pk == user.pk
    assert sent["email"] == "alice@example.com"


def test_verification_sent_does_not_fire_when_nothing_was_sent(
    dummy_tasks, make_user, client, mailoutbox
):
    user = make_user(verified=False)
    client.force_login(user)
    received = []
    signals.verification_sent.connect(received.append)
    send_verification(client)
    save_verified(user)
    try:
        assert run_queued() == [False]
    finally:
        signals.verification_sent.disconnect(received.append)
    assert received == []
    assert mailoutbox == []


# Celery ------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch):
    """The arguments of every Celery task the request hands over."""
    from django_verified_email import celery_tasks

    calls = []
    apply_async = celery_tasks.deliver_email.apply_async

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return apply_async(*args, **kwargs)

    monkeypatch.setattr(celery_tasks.deliver_email, "apply_async", spy)
    return calls


def test_celery_gets_ids_only(eager_celery, published, logged_in, user, mailoutbox):
    request_change(logged_in, "alice.new@example.com")

    change = EmailChange.objects.get(user=user)
    [(args, options)] = published
    assert args == ()
    assert options == {
        "kwargs": {
            "kind": emails.CHANGE_CONFIRM_OLD,
            "user_id": user.pk,
            "change_id": change.pk,
            "base_url": BASE_URL,
        }
    }
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]


def test_the_whole_dual_link_flow_runs_through_celery(eager_celery, logged_in, user, mailoutbox):
    request_change(logged_in, "alice.new@example.com")
    confirm(logged_in, link_path(mailoutbox[0], to="alice@example.com"))
    confirm(logged_in, link_path(mailoutbox[1], to="alice.new@example.com"))

    user.refresh_from_db()
    assert user.email_address == "alice.new@example.com"
    assert len(mailoutbox) == 4


def test_celery_gives_up_after_its_retries(eager_celery, flaky, logged_in, user):
    from django_verified_email import celery_tasks

    flaky.failures = 100

    response = request_change(logged_in, "alice.new@example.com")

    assert response.status_code == 302
    assert flaky.attempts == celery_tasks.deliver_email.max_retries + 1
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_OLD


def test_celery_sends_nothing_for_a_cancelled_change(eager_celery, logged_in, user, mailoutbox):
    from django_verified_email import celery_tasks

    request_change(logged_in, "alice.new@example.com")
    change = EmailChange.objects.get(user=user)
    logged_in.post(url("change-cancel"))
    mailoutbox.clear()

    result = celery_tasks.deliver_email.apply(
        kwargs={
            "kind": emails.CHANGE_CONFIRM_OLD,
            "user_id": user.pk,
            "change_id": change.pk,
            "base_url": BASE_URL,
        }
    )

    assert result.get() is False
    assert mailoutbox == []


def test_the_celery_task_is_registered_by_the_tasks_module():
    # Celery's autodiscover_tasks() imports <app>.tasks: importing it must be
    # enough for a worker to know the task.
    app = Celery("discovery", set_as_current=False)
    assert "django_verified_email.deliver_email" in app.tasks


def test_the_package_imports_without_celery(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['celery'] = None\n"
        "import importlib.util\n"
        "real_find_spec = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] == 'celery' "
        "else real_find_spec(name, *a)\n"
        "import django\n"
        "django.setup()\n"
        "import django_verified_email.tasks, django_verified_email.flows, "
        "django_verified_email.views\n"
        "from django.core import checks\n"
        "assert 'django_verified_email.celery_tasks' not in sys.modules\n"
        "print('ok')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_sync_host_loads_no_task_framework_until_a_task_mode_is_set():
    # A host's TASKS may have no "default" backend, which Django looks up as
    # soon as a module defines a task: in "sync" mode, no such module loads.
    script = (
        "import sys\n"
        "from django.conf import settings\n"
        f"settings.TASKS = {{'other': {{'BACKEND': {IMMEDIATE!r}}}}}\n"
        "import django\n"
        "django.setup()\n"
        "from django.test import override_settings\n"
        "from django_verified_email import delivery\n"
        "assert not {'django_verified_email.tasks', 'django_verified_email.celery_tasks'}"
        " & set(sys.modules)\n"
        "with override_settings(VERIFIED_EMAIL={'DELIVERY': 'celery'}):\n"
        "    assert 'celery' in delivery._BACKENDS\n"
        "print('ok')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# System checks -----------------------------------------------------------


def delivery_messages():
    return verified_email_checks.check_delivery()


@pytest.mark.parametrize("mode", ["tasks", "celery"])
def test_a_task_mode_without_base_url_warns(settings, mode):
    settings.VERIFIED_EMAIL = {"DELIVERY": mode}

    [warning] = delivery_messages()

    assert warning.id == "verified_email.W001"
    assert warning.level == checks.WARNING
    assert "verified_email.W001" in [
        message.id for message in checks.run_checks(include_deployment_checks=False)
    ]


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"DELIVERY": "sync"},
        {"DELIVERY": "tasks", "BASE_URL": BASE_URL},
        {"DELIVERY": "celery", "BASE_URL": BASE_URL},
    ],
)
def test_sync_mode_or_a_base_url_does_not_warn(settings, values):
    settings.VERIFIED_EMAIL = values

    assert delivery_messages() == []


@pytest.mark.parametrize("mode,package", [("tasks", "django"), ("celery", "celery")])
def test_a_task_mode_without_its_framework_is_an_error(settings, monkeypatch, mode, package):
    settings.VERIFIED_EMAIL = {"DELIVERY": mode, "BASE_URL": BASE_URL}
    real_find_spec = verified_email_checks.find_spec

    def find_spec_without(name, *args):
        if name in ("django.tasks", "django_tasks", "celery"):
            return None
        return real_find_spec(name, *args)

    monkeypatch.setattr(verified_email_checks, "find_spec", find_spec_without)

    [error] = delivery_messages()

    assert error.id == "verified_email.E006"
    assert error.level == checks.ERROR


@pytest.mark.parametrize("mode", ["tasks", "celery"])
def test_a_task_mode_nobody_registered_refuses_the_message_clearly(
    settings, monkeypatch, caplog, user, mode
):
    # What a host sees when E006 was silenced: the change is kept, the
    # request is told the message did not go, and the log says why.
    settings.VERIFIED_EMAIL = {"DELIVERY": mode, "BASE_URL": BASE_URL}
    monkeypatch.delitem(delivery._BACKENDS, mode)

    with pytest.raises(DeliveryFailed):
        flows.request_change(user, "alice.new@example.com", PASSWORD)

    assert EmailChange.objects.get(user=user).status == EmailChange.Status.AWAITING_OLD
    assert f"VERIFIED_EMAIL['DELIVERY'] is {mode!r}, but its task framework" in caplog.text


def test_password_is_never_in_a_task(dummy_tasks, logged_in):
    request_change(logged_in, "alice.new@example.com")

    [task_result] = queued()
    assert set(task_result.kwargs) == ID_ARGUMENTS
    assert PASSWORD not in repr(task_result.kwargs)
    assert "alice" not in repr(task_result.kwargs)


CONTEXT_HEADERS = {
    "REMOTE_ADDR": "27.34.1.2",
    "HTTP_USER_AGENT": "Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0",
}
CONTEXT_WORDS = ("27.34.1.2", "Firefox", "Android")


def test_the_request_context_is_never_in_a_task(dummy_tasks, logged_in, mailoutbox):
    pytest.importorskip("ua_parser")
    request_change(logged_in, "alice.new@example.com", **CONTEXT_HEADERS)

    [task_result] = queued()
    assert set(task_result.kwargs) == ID_ARGUMENTS
    for word in CONTEXT_WORDS:
        assert word not in repr((task_result.args, task_result.kwargs))

    # The worker reads it from the row.
    run_queued()
    [message] = mailoutbox
    assert "from the IP address 27.34.1.2, using Firefox Mobile on Android." in message.body


def test_the_request_context_is_never_in_a_celery_task(
    eager_celery, published, logged_in, mailoutbox
):
    pytest.importorskip("ua_parser")
    request_change(logged_in, "alice.new@example.com", **CONTEXT_HEADERS)

    [(args, options)] = published
    assert set(options["kwargs"]) == ID_ARGUMENTS
    for word in CONTEXT_WORDS:
        assert word not in repr((args, options))
    [message] = mailoutbox
    assert "from the IP address 27.34.1.2, using Firefox Mobile on Android." in message.body


REFUSER_HEADERS = {
    "REMOTE_ADDR": "198.51.100.7",
    "HTTP_USER_AGENT": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ),
}


def test_the_refusals_context_is_never_in_a_task(dummy_tasks, user, mailoutbox):
    pytest.importorskip("ua_parser")
    flows.request_change(user, "alice.new@example.com", PASSWORD)
    run_queued()
    deny_path = link_path(mailoutbox[0])

    Client().post(deny_path, {"deny": "1"}, **REFUSER_HEADERS)

    results = queued()
    assert len(results) == 2
    for task_result in results:
        assert set(task_result.kwargs) == ID_ARGUMENTS
        for word in ("198.51.100.7", "Chrome", "Windows"):
            assert word not in repr((task_result.args, task_result.kwargs))
    # The worker reads it from the row.
    run_queued()
    [to_old] = [m for m in mailoutbox[1:] if m.to == ["alice@example.com"]]
    assert "from the IP address 198.51.100.7, using Chrome on Windows." in to_old.body


def test_the_reverts_context_is_never_in_a_celery_task(eager_celery, published, user, mailoutbox):
    pytest.importorskip("ua_parser")
    notice = complete_dual_change(user, "alice.new@example.com", mailoutbox)
    published.clear()
    sent = len(mailoutbox)

    Client().post(revert_path(revert_token_in(notice)), {"password": PASSWORD}, **REFUSER_HEADERS)

    assert len(published) == 2
    for args, options in published:
        assert set(options["kwargs"]) == ID_ARGUMENTS
        for word in ("198.51.100.7", "Chrome", "Windows"):
            assert word not in repr((args, options))
    assert len(mailoutbox[sent:]) == 2
    for message in mailoutbox[sent:]:
        assert "from the IP address 198.51.100.7, using Chrome on Windows." in message.body


def test_a_revert_notice_the_mail_server_refused_is_sent_again_by_the_purge(
    user, mailoutbox, settings
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "BASE_URL": "https://example.com"}
    flows.request_change(user, "new@example.com", PASSWORD)
    flows.confirm_change(token_in(mailoutbox[-1]))
    use_mail_backend(settings, UNREACHABLE)
    with pytest.raises(DeliveryFailed):
        flows.confirm_change(token_in(mailoutbox[-1]))
    change = EmailChange.objects.get()
    assert change.status == "completed"
    assert change.notice_owed_at is not None
    use_mail_backend(settings, LOCMEM)
    mailoutbox.clear()

    call_command("verified_email_purge", stdout=StringIO())

    [notice] = mailoutbox
    assert notice.to == ["alice@example.com"]
    flows.confirm_revert(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)
    assert email_of(reloaded(user)) == "alice@example.com"
    assert EmailChange.objects.get().notice_owed_at is None
    sent = len(mailoutbox)  # the notice, and the revert's own two
    call_command("verified_email_purge", stdout=StringIO())
    assert len(mailoutbox) == sent


def test_an_owed_notice_is_sent_once_and_owed_again_if_it_fails_again(user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "BASE_URL": "https://example.com"}
    flows.request_change(user, "new@example.com", PASSWORD)
    flows.confirm_change(token_in(mailoutbox[-1]))
    use_mail_backend(settings, REFUSING)
    with pytest.raises(DeliveryFailed):
        flows.confirm_change(token_in(mailoutbox[-1]))

    assert flows.send_owed_notices() == 0
    assert EmailChange.objects.get().notice_owed_at is not None
    use_mail_backend(settings, LOCMEM)
    mailoutbox.clear()
    assert flows.send_owed_notices() == 1
    assert flows.send_owed_notices() == 0
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]


# One-time codes ----------------------------------------------------------


def test_the_worker_makes_the_code_the_task_carries_none(dummy_tasks, logged_in, user, mailoutbox):
    from django_verified_email.models import OneTimeCode
    from tests.helpers import code_in

    request_change(logged_in, "alice.new@example.com")

    # Nothing is made before the worker runs: the queue can hold no code.
    [task_result] = queued()
    assert set(task_result.kwargs) == ID_ARGUMENTS
    assert not OneTimeCode.objects.exists()
    assert run_queued() == [True]
    code = code_in(mailoutbox[-1])
    assert code not in repr(task_result.kwargs)
    assert code.replace("-", "") not in repr(task_result.kwargs)
    # And it works.
    response = logged_in.post(url("change-code"), {"code": code})
    assert response.status_code == 200
    assert EmailChange.objects.get().status == EmailChange.Status.AWAITING_NEW


def test_a_late_worker_makes_no_code_for_a_superseded_change(
    dummy_tasks, logged_in, user, mailoutbox
):
    from django_verified_email.models import OneTimeCode
    from tests.helpers import code_in

    request_change(logged_in, "alice.new@example.com")
    request_change(logged_in, "alice.other@example.com")
    first, second = queued()
    tasks.deliver_email.get_backend().clear()
    assert run(second) is True
    live = OneTimeCode.objects.get()

    assert run(first) is False

    assert OneTimeCode.objects.get().digest == live.digest
    [message] = mailoutbox
    assert logged_in.post(url("change-code"), {"code": code_in(message)}).status_code == 200


def test_celery_gets_no_code(eager_celery, published, logged_in, user, mailoutbox):
    from tests.helpers import code_in

    request_change(logged_in, "alice.new@example.com")

    code = code_in(mailoutbox[-1])
    [(_args, options)] = published
    assert set(options["kwargs"]) == ID_ARGUMENTS
    assert code not in repr(options)
    assert code.replace("-", "") not in repr(options)


# A notice the worker gave up on is owed (N4) ------------------------------


@pytest.fixture
def completed(user, mailoutbox, settings):
    """A completed change, its old-address notice sent; the mailbox emptied."""
    settings.VERIFIED_EMAIL = {"BASE_URL": BASE_URL, "RESEND_COOLDOWN": 0}
    complete_dual_change(user, "alice.new@example.com", mailoutbox)
    mailoutbox.clear()
    change = EmailChange.objects.get(user=user)
    return {
        "kind": emails.CHANGE_NOTICE_OLD,
        "user_id": user.pk,
        "change_id": change.pk,
        "base_url": BASE_URL,
    }


def _owed_notice_goes_out_on_the_next_run(settings, completed, mailoutbox):
    assert EmailChange.objects.get(pk=completed["change_id"]).notice_owed_at is not None
    settings.VERIFIED_EMAIL = {"BASE_URL": BASE_URL}
    use_mail_backend(settings, LOCMEM)
    assert flows.send_owed_notices(base_url=BASE_URL) == 1
    [notice] = mailoutbox
    assert notice.to == ["alice@example.com"]
    assert EmailChange.objects.get(pk=completed["change_id"]).notice_owed_at is None


def test_a_notice_the_tasks_worker_gave_up_on_is_owed(completed, settings, mailoutbox):
    use_tasks(settings, DUMMY)
    use_mail_backend(settings, UNREACHABLE)

    with pytest.raises(ConnectionRefusedError):
        tasks.deliver_email.call(**completed, attempt=tasks.MAX_ATTEMPTS)

    _owed_notice_goes_out_on_the_next_run(settings, completed, mailoutbox)


def test_a_notice_the_tasks_worker_will_retry_is_not_owed_yet(completed, settings):
    use_tasks(settings, DUMMY)
    use_mail_backend(settings, UNREACHABLE)

    assert tasks.deliver_email.call(**completed, attempt=1) is False

    assert EmailChange.objects.get(pk=completed["change_id"]).notice_owed_at is None
    tasks.deliver_email.get_backend().clear()


def test_a_notice_celery_gave_up_on_is_owed(completed, eager_celery, flaky, settings, mailoutbox):
    from django_verified_email import celery_tasks

    flaky.failures = 100

    result = celery_tasks.deliver_email.apply(kwargs=completed)

    assert result.failed()
    assert flaky.attempts == celery_tasks.deliver_email.max_retries + 1
    _owed_notice_goes_out_on_the_next_run(settings, completed, mailoutbox)
