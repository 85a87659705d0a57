"""Recoveries coming due with several `verified_email_complete_due` runs at once.

Cron on two machines, or a cron job and the periodic task, may start
together: each due change must complete exactly once, with its emails sent
once, and neither run may wait on the other or fail.
"""

import time

import pytest

from django_verified_email import flows, tokens
from django_verified_email.flows import recovery
from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, email_of, later, reloaded, run_at_once, token_in

pytestmark = pytest.mark.concurrency

BASE = "http://testserver"
DELAY = 604800
WINDOW = 0.2


@pytest.fixture
def slow_checks(monkeypatch):
    """Hold every completion's re-check a moment, so two runs overlap on each change."""
    check = recovery._why_not

    def slow(change):
        answer = check(change)
        time.sleep(WINDOW)
        return answer

    monkeypatch.setattr(recovery, "_why_not", slow)


def schedule_recovery(user, new_email, mailoutbox):
    flows.request_change(user, new_email, PASSWORD, base_url=BASE, old_email_lost=True)
    [to_new] = [m for m in mailoutbox if m.to == [new_email]]
    return flows.confirm_change(token_in(to_new), base_url=BASE)


@pytest.fixture
def due(make_user, mailoutbox):
    users = [make_user(f"user{i}", f"user{i}@example.com") for i in range(4)]
    changes = [
        schedule_recovery(user, f"user{i}.new@example.org", mailoutbox)
        for i, user in enumerate(users)
    ]
    assert {change.status for change in changes} == {"scheduled"}
    with later(DELAY - 20 * 3600):
        # A run sent the reminders on time: none completes before its reminder.
        assert flows.complete_due(base_url=BASE).reminded == len(changes)
    mailoutbox.clear()
    return users, changes


def test_two_runs_complete_each_due_change_exactly_once(due, slow_checks, mailoutbox):
    users, changes = due
    with later(DELAY + 60):
        results = run_at_once(
            lambda: flows.complete_due(base_url=BASE), lambda: flows.complete_due(base_url=BASE)
        )
    assert [kind for kind, _value in results] == ["ok", "ok"], results
    runs = [value for _kind, value in results]
    assert sum(run.completed for run in runs) == len(changes)
    assert sum(run.cancelled for run in runs) == 0
    for i, user in enumerate(users):
        assert email_of(reloaded(user)) == f"user{i}.new@example.org"
    assert set(EmailChange.objects.values_list("status", flat=True)) == {"completed"}
    # Two emails per change (the new address, the old one), never a second copy.
    recipients = sorted(message.to[0] for message in mailoutbox)
    assert len(recipients) == 2 * len(changes)
    assert len(set(recipients)) == len(recipients)


def test_a_run_and_the_users_cancel_leave_one_outcome(due, slow_checks, mailoutbox):
    users, changes = due
    alice = users[0]

    def cancel():
        try:
            return flows.cancel_change(alice).status
        except Exception as error:  # the run may have completed it first
            return error.__class__.__name__

    with later(DELAY + 60):
        results = run_at_once(lambda: flows.complete_due(base_url=BASE), cancel)
    assert [kind for kind, _value in results] == ["ok", "ok"], results
    status = EmailChange.objects.get(pk=changes[0].pk).status
    if results[1][1] == "cancelled":
        assert status == "cancelled"
        assert email_of(reloaded(alice)) == "user0@example.com"
    else:
        assert results[1][1] == "NoPendingChange"
        assert status == "completed"
        assert email_of(reloaded(alice)) == "user0.new@example.org"


def test_a_stop_racing_the_completion_leaves_one_outcome(due, slow_checks, mailoutbox):
    users, changes = due
    alice = users[0]
    stop_token = tokens.make_stop_token(changes[0])

    def stop():
        try:
            return flows.confirm_stop(stop_token, base_url=BASE).status
        except Exception as error:  # the run may have completed it first
            return error.__class__.__name__

    with later(DELAY + 60):
        results = run_at_once(lambda: flows.complete_scheduled(changes[0].pk, base_url=BASE), stop)
    assert [kind for kind, _value in results] == ["ok", "ok"], results
    status = EmailChange.objects.get(pk=changes[0].pk).status
    stored = reloaded(alice)
    if results[1][1] == "denied":
        assert status == "denied"
        assert email_of(stored) == "user0@example.com"
        assert not stored.has_usable_password()
    else:
        assert results[1][1] == "InvalidToken"
        assert status == "completed"
        assert email_of(stored) == "user0.new@example.org"
        assert stored.has_usable_password()
