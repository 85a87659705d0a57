"""Access requests: export_user_data and the verified_email_export command."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_verified_email import flows
from django_verified_email.models import EmailChange
from django_verified_email.privacy import (
    EXPORTED_CHANGE_FIELDS,
    NOT_EXPORTED,
    export_user_data,
)
from django_verified_email.request_context import RequestContext
from tests.helpers import PASSWORD, mark_verified_at, reloaded

WHEN = timezone.now().replace(microsecond=0)


def export(*args):
    out = StringIO()
    call_command("verified_email_export", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(make_user, settings):
    """Alice changed her address once and has a change open; Bob tried to take hers."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user()
    bob = make_user("bob", "bob@example.com")
    done = EmailChange.objects.create(
        user=alice,
        old_email="alice-old@example.com",
        new_email="alice@example.com",
        status="completed",
        created_at=WHEN - timedelta(days=3),
        link_sent_at=WHEN - timedelta(days=3),
        old_confirmed_at=WHEN - timedelta(days=3),
        closed_at=WHEN - timedelta(days=2),
        reverted_at=WHEN - timedelta(days=1),
        requested_ip="27.34.1.2",
        requested_browser="Firefox",
        requested_os="Android",
        refused_ip="198.51.100.7",
        refused_browser="Safari",
        refused_os="iOS",
    )
    flows.request_change(
        alice,
        "alice-new@example.com",
        PASSWORD,
        base_url="https://x.example",
        context=RequestContext(ip="2001:db8::1", browser="Chrome", os=""),
    )
    EmailChange.objects.create(
        user=bob, old_email="bob@example.com", new_email="alice@example.com", status="cancelled"
    )
    mark_verified_at(alice, WHEN - timedelta(days=2))
    alice = reloaded(alice)
    return alice, done


def test_the_export_holds_the_users_address_and_every_change_of_theirs_oldest_first(history):
    alice, done = history

    data = export_user_data(alice)

    assert data["version"] == 1
    assert data["user"] == {
        "pk": str(alice.pk),
        "email": "alice@example.com",
        "is_email_verified": True,
        "email_verified_at": (WHEN - timedelta(days=2)).isoformat(),
    }
    first, second = data["email_changes"]
    assert first == {
        "id": done.pk,
        "old_email": "alice-old@example.com",
        "new_email": "alice@example.com",
        "status": "completed",
        "created_at": (WHEN - timedelta(days=3)).isoformat(),
        "link_sent_at": (WHEN - timedelta(days=3)).isoformat(),
        "old_confirmed_at": (WHEN - timedelta(days=3)).isoformat(),
        "closed_at": (WHEN - timedelta(days=2)).isoformat(),
        "reverted_at": (WHEN - timedelta(days=1)).isoformat(),
        "revert_scheduled_at": None,
        "revert_due_at": None,
        "requested_ip": "27.34.1.2",
        "requested_browser": "Firefox",
        "requested_os": "Android",
        "refused_ip": "198.51.100.7",
        "refused_browser": "Safari",
        "refused_os": "iOS",
        "old_email_lost": False,
        "second_factor": False,
        "completes_at": None,
        "reminder_sent_at": None,
        "closed_reason": "",
        "completion_reason": "",
    }
    assert (second["old_email"], second["new_email"]) == (
        "alice@example.com",
        "alice-new@example.com",
    )
    assert second["status"] == "awaiting_old"
    assert second["closed_at"] is None
    assert (second["requested_ip"], second["requested_browser"], second["requested_os"]) == (
        "2001:db8::1",
        "Chrome",
        "",
    )
    # Bob's row names Alice's address, but it is Bob's.
    assert all(change["status"] != "cancelled" for change in data["email_changes"])


def test_the_export_is_plain_json(history):
    alice, _ = history
    data = export_user_data(alice)
    assert json.loads(json.dumps(data)) == data


def test_a_user_without_changes_exports_an_empty_list(make_user):
    carol = make_user("carol", "", verified=False)
    assert export_user_data(carol)["user"] == {
        "pk": str(carol.pk),
        "email": "",
        "is_email_verified": False,
        "email_verified_at": None,
    }
    assert export_user_data(carol)["email_changes"] == []


def test_every_field_of_an_email_change_is_exported_or_knowingly_left_out():
    fields = {field.name for field in EmailChange._meta.concrete_fields}
    assert fields == set(EXPORTED_CHANGE_FIELDS) | set(NOT_EXPORTED)
    assert not set(EXPORTED_CHANGE_FIELDS) & set(NOT_EXPORTED)


def test_the_command_prints_the_export_as_json(history):
    alice, _ = history
    output = export(str(alice.pk))
    assert json.loads(output) == export_user_data(alice)
    assert output.startswith('{\n  "version": 1')
    assert json.loads(export(str(alice.pk), "--indent", "0")) == export_user_data(alice)


@pytest.mark.parametrize("pk", ["999999", "not-a-number", ""])
def test_the_command_refuses_an_unknown_or_malformed_user_key(db, pk):
    with pytest.raises(CommandError, match="No user with primary key"):
        export(pk)
