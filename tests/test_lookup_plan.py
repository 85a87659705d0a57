"""PostgreSQL answers the flow's "address taken?" lookups from an index.

With a million users a full scan of the user table costs most of a second
per step. The test app declares the quickstart's recipe (a unique constraint
on ``Lower(email)``, partial); the lookups must use its index, as PostgreSQL
plans them, for the SQL the flow really sends.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_verified_email.models import keeps_own_state
from tests.helpers import client_for, email_of, reloaded, request_change, token_in

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]

INDEX = "testapp_user_email_unique_ci"
# The lookup as the flow sends it, whatever function it compares with.
LOOKUP_RE = re.compile(r'(?:LOWER|UPPER)\((?:"?\w+"?\.)?"email_address"(?:::text)?\)')
# Enough rows that a sequential scan is not the cheap plan any more.
OTHER_USERS = 20_000


def fill_users(count):
    # The mixin's columns only where the test user model has them (not with
    # VE_TEST_STORE=profile).
    mixin = keeps_own_state(get_user_model())
    columns = ", is_email_verified, email_security_counter" if mixin else ""
    values = ", true, 0" if mixin else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO testapp_user (password, is_superuser, username, email_address, is_active,
                                      is_staff{columns})
            SELECT '!', false, 'filler' || n, 'filler' || n || '@example.org', true, false{values}
            FROM generate_series(1, %s) AS n
            """,
            [count],
        )
        cursor.execute("ANALYZE testapp_user")


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explain(sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        [[document]] = cursor.fetchall()
    if isinstance(document, str):
        document = json.loads(document)
    return list(plan_nodes(document[0]["Plan"]))


def test_the_flows_taken_lookups_use_the_email_index(make_user, mailoutbox):
    fill_users(OTHER_USERS)
    alice = make_user()
    make_user("bob", "bob@example.com")

    with CaptureQueriesContext(connection) as queries:
        assert request_change(client_for(alice), "new@example.com").status_code == 302
        confirm_old = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_old).status_code == 200
        confirm_new = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_new).status_code == 302
    assert email_of(reloaded(alice)) == "new@example.com"

    lookups = [query["sql"] for query in queries.captured_queries if LOOKUP_RE.search(query["sql"])]
    # Request, confirm old (taken?), confirm new (who holds it: taken, or
    # only typed by accounts to release it from; then taken? again, under
    # the address lock, before the address is given).
    assert len(lookups) == 4, lookups
    for sql in lookups:
        nodes = explain(sql)
        on_users = [node for node in nodes if node.get("Relation Name") == "testapp_user"]
        assert not [node for node in on_users if node["Node Type"] == "Seq Scan"], nodes
        assert any(
            node.get("Index Name") == INDEX and "lower" in node.get("Index Cond", "")
            for node in on_users
        ), nodes
