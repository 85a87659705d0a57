"""The adoption command's batches racing a verification of one of their addresses.

``verified_email_trust_existing`` scans the table once, then trusts it in
batches for minutes: an account can take an address after the scan (an
admin edit) and prove it while a batch is marking another account that has
it. With no unique rule (a table before the quickstart's constraint) both
accounts ended verified; on the profile store, whose unique index on the
proved address refused the batch's row, the command stopped on an
IntegrityError. Each race holds one side a moment, its locks taken, so the
other side decides while it waits; the outcome must be one holder whichever
side runs first.
"""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from django_verified_email import adoption, flows
from django_verified_email.exceptions import EmailTaken
from django_verified_email.models import EmailChange
from django_verified_email.stores import get_store
from tests.concurrency.test_concurrency_address_lock import (  # noqa: F401 (fixtures)
    SHARED,
    WINDOW,
    later,
    no_unique_rule,
    slow_mark_verified,
    verification_token,
    verified_holders,
)
from tests.helpers import run_at_once

pytestmark = pytest.mark.concurrency


@pytest.fixture
def bob_takes_the_address_after_the_scan(make_user, mailoutbox, settings, monkeypatch):
    """Alice has SHARED, unverified; Bob types it after the command's scan; his link.

    Bob used the app before (a change he cancelled), so the batch leaves
    him alone: only the address lock stands between the two accounts.
    """
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    make_user("alice", SHARED, verified=False)
    bob = make_user("bob", "bob@example.com", verified=False)
    EmailChange.objects.create(
        user=bob, old_email="bob@example.com", new_email="b@example.com", status="cancelled"
    )
    scan = adoption.audit_addresses()
    monkeypatch.setattr(adoption, "audit_addresses", lambda using=None: scan)
    bob.email_address = SHARED.upper()
    bob.save()
    return verification_token(bob, mailoutbox)


def trust():
    # Alice in a batch of her own: Bob's row is not among the batch's locks.
    out = StringIO()
    call_command("verified_email_trust_existing", "--batch-size", "1", stdout=out)
    return out.getvalue()


def assert_one_holder(results, *, flow, batch):
    """One account ends verified, whichever side ran first; the other side says so.

    A head start orders the two sides, but a loaded machine may still let
    the later one in first: the outcome must hold either way.
    """
    [holder] = verified_holders(SHARED)
    flow_kind, flow_value = results[flow]
    batch_kind, output = results[batch]
    assert batch_kind == "ok", results
    if holder == "bob":  # the verification first: the batch skips Alice
        assert flow_kind == "ok", results
        assert "1 verified on another account" in output, output
    else:  # the batch first: Bob's verification is refused
        assert holder == "alice", results
        assert flow_kind == "error" and isinstance(flow_value, EmailTaken), results


@pytest.mark.usefixtures("no_unique_rule", "slow_mark_verified")
def test_a_batch_waits_for_a_verification_of_its_address_then_skips_it(
    bob_takes_the_address_after_the_scan,
):
    results = run_at_once(
        lambda: flows.confirm_verification(bob_takes_the_address_after_the_scan),
        later(trust),
    )

    assert_one_holder(results, flow=0, batch=1)


@pytest.mark.usefixtures("no_unique_rule")
def test_a_verification_waits_for_a_batch_that_trusts_its_address(
    bob_takes_the_address_after_the_scan, monkeypatch
):
    store = type(get_store())
    mark = store.trust

    def slow(self, rows, when, using=None):
        time.sleep(WINDOW)
        return mark(self, rows, when, using)

    monkeypatch.setattr(store, "trust", slow)

    results = run_at_once(
        later(lambda: flows.confirm_verification(bob_takes_the_address_after_the_scan)),
        trust,
    )

    assert_one_holder(results, flow=0, batch=1)
