"""The management commands at scale: batches, progress, a run stopped half-way, bad input."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_verified_email import flows
from django_verified_email.models import EmailChange
from tests.helpers import BASE_URL, PASSWORD, client_for, email_of, later, reloaded, token_in

DELAY = 604800  # the default RECOVERY_DELAY: 7 days
COMMANDS = [
    ["verified_email_complete_due", f"--base-url={BASE_URL}"],
    ["verified_email_purge"],
    ["verified_email_audit_addresses"],
    ["verified_email_export", "1"],
    ["verified_email_trust_existing", "--dry-run"],
]


def schedule(make_user, mailoutbox, count):
    """``count`` users, each with a recovery confirmed by its new address: scheduled."""
    users = []
    for i in range(count):
        user = make_user(f"user{i}", f"user{i}@example.com")
        client = client_for(user)
        new = f"user{i}.new@example.org"
        response = client.post(
            reverse("verified_email:change"),
            {"new_email": new, "password": PASSWORD, "old_email_lost": "on"},
        )
        assert response.status_code == 302
        [to_new] = [m for m in mailoutbox if m.to == [new]]
        confirm = reverse("verified_email:change-confirm", args=[token_in(to_new, to=new)])
        assert client.post(confirm).status_code == 200
        users.append(user)
    assert EmailChange.objects.filter(status="scheduled").count() == count
    # Reminded in time, as a run a day before would have: no completion
    # before the reminder (docs/security.md, N2).
    EmailChange.objects.filter(status="scheduled").update(reminder_sent_at=timezone.now())
    return users


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_every_command_refuses_an_unknown_database(command, db):
    with pytest.raises(CommandError, match="Unknown database 'nowhere'"):
        call_command(*command, "--database=nowhere")


@pytest.mark.parametrize("value", ["0", "-5"])
@pytest.mark.parametrize(
    "command",
    [
        c
        for c in COMMANDS
        if c[0] != "verified_email_audit_addresses" and c[0] != "verified_email_export"
    ],
    ids=lambda command: command[0],
)
def test_batch_commands_refuse_a_batch_below_one(command, value, db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command(*command, f"--batch-size={value}")


@pytest.mark.parametrize(
    "command",
    [
        c
        for c in COMMANDS
        if c[0] != "verified_email_audit_addresses" and c[0] != "verified_email_export"
    ],
    ids=lambda command: command[0],
)
def test_batch_commands_refuse_a_batch_too_large_for_one_query(command, db):
    # Each batch names its rows in one query: SQLite refuses more than 32,766
    # parameters, with a traceback mid-run.
    with pytest.raises(CommandError, match="--batch-size must be at most 10000"):
        call_command(*command, "--batch-size=40000")


def test_progress_may_be_printed_less_often_than_the_largest_batch(db):
    out = run("verified_email_complete_due", f"--base-url={BASE_URL}", "--progress-every=50000")
    assert "Completed 0," in out


def test_the_database_defaults_to_where_the_router_writes_changes(make_user, mailoutbox):
    schedule(make_user, mailoutbox, 1)
    with later(DELAY + 60):
        out = run("verified_email_complete_due", f"--base-url={BASE_URL}", "--database=default")
    assert "Completed 1," in out


def test_complete_due_reads_in_batches_and_prints_progress(make_user, mailoutbox):
    users = schedule(make_user, mailoutbox, 5)
    with later(DELAY + 60), CaptureQueriesContext(connection) as queries:
        out = run(
            "verified_email_complete_due",
            f"--base-url={BASE_URL}",
            "--batch-size=2",
            "--progress-every=2",
        )
    assert [email_of(reloaded(user)) for user in users] == [
        f"user{i}.new@example.org" for i in range(5)
    ]
    assert "... 2 due change(s) so far: completed 2" in out
    assert "... 4 due change(s) so far: completed 4" in out
    assert "Completed 5, cancelled 0, left 0" in out
    # Never every due id at once: three batches of at most two, and the empty one.
    id_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "verified_email_emailchange"."id"')
        and "LIMIT 2" in q["sql"]
        and '"id" AS "pk"' in q["sql"]
        and "completes_at" in q["sql"]
    ]
    assert len(id_reads) == 4, id_reads


def test_a_run_stopped_half_way_loses_nothing_and_the_next_finishes(make_user, mailoutbox):
    users = schedule(make_user, mailoutbox, 4)

    class Stopped(Exception):
        pass

    def stop_after_two(run):
        if run.completed == 2:
            raise Stopped

    with later(DELAY + 60):
        with pytest.raises(Stopped):
            flows.complete_due(batch_size=3, base_url=BASE_URL, progress=stop_after_two)
        assert EmailChange.objects.filter(status="completed").count() == 2
        assert EmailChange.objects.filter(status="scheduled").count() == 2
        sent = len(mailoutbox)
        out = run("verified_email_complete_due", f"--base-url={BASE_URL}")
        assert "Completed 2, cancelled 0, left 0" in out
        assert "Completed 0, cancelled 0, left 0" in run(
            "verified_email_complete_due", f"--base-url={BASE_URL}"
        )
    assert [email_of(reloaded(user)) for user in users] == [
        f"user{i}.new@example.org" for i in range(4)
    ]
    # The second run told only the two it completed (each: new and old address).
    assert len(mailoutbox) - sent == 4
