"""The database answers the flow's "address taken?" lookups from an index.

With a million users a full scan of the user table costs most of a second
per step. The test app declares the quickstart's recipes: a unique
constraint on ``Lower(email)``, partial, which PostgreSQL builds, and a
unique stored generated column of the folded address, which MariaDB builds
instead. The lookups must use the index of the one the database built, as
its planner plans them, for the SQL the flow really sends.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_verified_email.models import keeps_own_state
from tests.helpers import client_for, email_of, reloaded, request_change, token_in

INDEX = "testapp_user_email_unique_ci"
MARIADB_INDEX = "testapp_user_email_lower_unique"
# The lookup as the flow sends it, whatever function it compares with.
LOOKUP_RE = re.compile(r'(?:LOWER|UPPER)\((?:"?\w+"?\.)?"email_address"(?:::text)?\)')
# On MariaDB: the generated column, compared with the folded spellings.
MARIADB_LOOKUP_RE = re.compile(r"`email_lower` IN \(LOWER\(")
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


def run_flow_lookups(make_user, mailoutbox, pattern):
    """The "address taken?" lookups one change sends, as SQL."""
    alice = make_user()
    make_user("bob", "bob@example.com")

    with CaptureQueriesContext(connection) as queries:
        assert request_change(client_for(alice), "new@example.com").status_code == 302
        confirm_old = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_old).status_code == 200
        confirm_new = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_new).status_code == 302
    assert email_of(reloaded(alice)) == "new@example.com"

    lookups = [query["sql"] for query in queries.captured_queries if pattern.search(query["sql"])]
    # Request, confirm old (taken?), confirm new (who holds it: taken, or
    # only typed by accounts to release it from; then taken? again, under
    # the address lock, before the address is given).
    assert len(lookups) == 4, lookups
    return lookups


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_the_flows_taken_lookups_use_the_email_index(make_user, mailoutbox):
    fill_users(OTHER_USERS)
    lookups = run_flow_lookups(make_user, mailoutbox, LOOKUP_RE)
    for sql in lookups:
        nodes = explain(sql)
        on_users = [node for node in nodes if node.get("Relation Name") == "testapp_user"]
        assert not [node for node in on_users if node["Node Type"] == "Seq Scan"], nodes
        assert any(
            node.get("Index Name") == INDEX and "lower" in node.get("Index Cond", "")
            for node in on_users
        ), nodes


def fill_users_mariadb(count):
    mixin = keeps_own_state(get_user_model())
    columns = ", is_email_verified, email_security_counter" if mixin else ""
    values = ", 1, 0" if mixin else ""
    with connection.cursor() as cursor:
        # MariaDB's sequence engine: a table of the numbers 1 to N.
        cursor.execute(
            f"""
            INSERT INTO testapp_user (password, is_superuser, username, email_address,
                                      is_active, is_staff{columns})
            SELECT '!', 0, CONCAT('filler', seq), CONCAT('filler', seq, '@example.org'),
                   1, 0{values}
            FROM seq_1_to_{count}
            """
        )
        cursor.execute("ANALYZE TABLE testapp_user")


def explain_mariadb(sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.hardening
@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's planner")
def test_mariadb_answers_the_flows_taken_lookups_from_the_generated_columns_index(
    transactional_db, make_user, mailoutbox
):
    if not connection.mysql_is_mariadb:
        pytest.skip("MariaDB's sequence engine and planner")
    # ANALYZE TABLE commits on MariaDB: the rows are flushed after the test,
    # not rolled back.
    fill_users_mariadb(OTHER_USERS)
    lookups = run_flow_lookups(make_user, mailoutbox, MARIADB_LOOKUP_RE)
    for sql in lookups:
        rows = [row for row in explain_mariadb(sql) if row["table"] == "testapp_user"]
        # A table read whole is type ALL (an index read whole, "index", is no better).
        assert rows and all(row["type"] not in ("ALL", "index") for row in rows), rows
        # The lookup reads the column's index; the profile store's half of
        # its UNION joins the users it found by primary key.
        assert {row["key"] for row in rows} - {"PRIMARY"} == {MARIADB_INDEX}, rows
