"""REVEAL_TAKEN_EMAIL = False: a taken address looks exactly like a free one.

"Exactly" is checked on what an observer can measure without a stopwatch:
the responses, the pages after them, the database work (query counts) and
the mail handed over (one message to the requested address either way).
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_verified_email import addresses, flows
from tests.helpers import client_for, links_in, path_of, request_change

pytestmark = pytest.mark.hardening

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def _hidden(settings):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": False, "RESEND_COOLDOWN": 0}


def observe(client, address, mailoutbox, action, own_address):
    """What the requester sees and what the server does for one request."""
    sent_before = len(mailoutbox)
    # A request clears the query log as it starts (request_started): start
    # from an empty log so the capture's slice is the request's queries.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        response = action()
    # Counted now: the next request clears the log the capture reads from.
    query_count = len(queries)
    page = client.get(response["Location"]) if response.status_code == 302 else response
    body = (
        CSRF.sub(b"", page.content)
        .replace(address.encode(), b"[address]")
        .replace(own_address.encode(), b"[own]")
    )
    sent = mailoutbox[sent_before:]
    assert query_count, "no queries captured"
    return {
        "status": response.status_code,
        "location": response.get("Location"),
        "body": body,
        "queries": query_count,
        "recipients": [
            [to.replace(address, "[address]").replace(own_address, "[own]") for to in m.to]
            for m in sent
        ],
    }, sent


def test_the_add_email_flow_looks_the_same_for_a_taken_address(make_user, mailoutbox):
    make_user("bob", "bob@example.com")
    ann = make_user("ann", "ann@example.com", verified=False)
    amy = make_user("amy", "amy@example.com", verified=False)
    ann_client, amy_client = client_for(ann), client_for(amy)

    taken, taken_sent = observe(
        ann_client,
        "bob@example.com",
        mailoutbox,
        lambda: request_change(ann_client, "bob@example.com"),
        "ann@example.com",
    )
    free, free_sent = observe(
        amy_client,
        "free@example.com",
        mailoutbox,
        lambda: request_change(amy_client, "free@example.com"),
        "amy@example.com",
    )

    assert taken == free
    # Behind the curtain: the owner was told, the free address got a link.
    assert taken_sent[0].subject != free_sent[0].subject
    assert not links_in(taken_sent[0])
    assert links_in(free_sent[0])
    assert taken_sent[0].to == ["bob@example.com"]


def test_the_dual_link_flow_looks_the_same_for_a_taken_address(make_user, mailoutbox):
    make_user("bob", "bob@example.com")
    ann = make_user("ann", "ann@example.com", verified=True)
    amy = make_user("amy", "amy@example.com", verified=True)
    results = {}
    for owner, address in ((ann, "bob@example.com"), (amy, "free@example.com")):
        client = client_for(owner)
        own = owner.email_address
        requested, _ = observe(
            client, address, mailoutbox, lambda: request_change(client, address), own
        )
        [old_link] = links_in(mailoutbox[-1])
        path = path_of(old_link)
        confirmed, sent = observe(client, address, mailoutbox, lambda: client.post(path), own)
        results[address] = (requested, confirmed, sent)

    taken, free = results["bob@example.com"], results["free@example.com"]
    assert taken[0] == free[0]
    assert taken[1] == free[1]
    assert taken[2][0].to == ["bob@example.com"]
    assert not links_in(taken[2][0])
    assert links_in(free[2][0])


def test_the_owner_gets_the_taken_notice_and_the_requester_no_link(make_user, mailoutbox):
    bob = make_user("bob", "bob@example.com")
    ann = make_user("ann", "ann@example.com", verified=False)

    change = flows.request_change(ann, "BOB@example.com.", "correct horse battery staple")

    [notice] = mailoutbox
    assert [addresses.comparable(to) for to in notice.to] == ["bob@example.com"]
    assert not links_in(notice)
    assert change.status == "awaiting_new"
    bob.refresh_from_db()
    assert bob.email_address == "bob@example.com"
