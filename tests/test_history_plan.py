"""A long change history costs the flows nothing: every read they send uses an index.

The change table holds years of closed changes, the user table millions of
accounts. Each test fills both with enough rows that a full scan is not the
planner's cheap choice any more, runs a real completion and a real revert
(the steps that lock the changes to an address: ``lock_for_taking``), and
asks the database how it would run each statement the flow sent.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_verified_email.models import keeps_own_state
from tests.helpers import (
    PASSWORD,
    client_for,
    email_of,
    reloaded,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
)

USERS = "testapp_user"
CHANGES = "verified_email_emailchange"
# Enough rows that a scan is not the cheap plan: 40,000 old changes, of which
# many are undoable (completed, not reverted) and many carry the very domain
# the flow's addresses use.
OLD_ROWS = 40_000

FILL_USERS = """
    INSERT INTO testapp_user (password, is_superuser, username, email_address, is_active,
                              is_staff{state_columns})
    SELECT '!', {false}, CONCAT('filler', n), CONCAT('filler', n, '@example.com'),
           {true}, {false}{state_values}
    FROM {series}
"""
FILL_CHANGES = """
    INSERT INTO verified_email_emailchange (user_id, old_email, new_email, status,
        link_generation, created_at, closed_at, old_email_lost, second_factor,
        requested_os, refused_os, account_fingerprint, closed_reason, completion_reason,
        access_owed, devices_kept, link_base)
    SELECT u.id, CONCAT('was', u.id, '@example.com'), CONCAT('filler', u.id, '@example.com'),
           CASE WHEN MOD(u.id, 4) = 0 THEN 'cancelled' ELSE 'completed' END, 1,
           {now}, {now}, {false}, {false}, '', '', '', '', '', '', '', ''
    FROM testapp_user u, {series_of_two}
    WHERE u.username LIKE 'filler%%'
"""


def fill_history(users):
    if connection.vendor == "postgresql":
        words = {
            "false": "false",
            "true": "true",
            "now": "now()",
            "series": f"generate_series(1, {users}) AS n",
            "series_of_two": "generate_series(1, 2) AS copies",
        }
    else:
        words = {
            "false": "0",
            "true": "1",
            "now": "NOW(6)",
            # MariaDB's sequence engine: a table of the numbers 1 to N.
            "series": f"(SELECT seq AS n FROM seq_1_to_{users}) AS numbers",
            "series_of_two": "seq_1_to_2 AS copies",
        }
    # The mixin keeps the verified state in the user's row; the profile
    # store (VE_TEST_STORE=profile) in a table of its own, left empty here.
    mixin = keeps_own_state(get_user_model())
    words["state_columns"] = ", is_email_verified, email_security_counter" if mixin else ""
    words["state_values"] = f", {words['true']}, 0" if mixin else ""
    with connection.cursor() as cursor:
        cursor.execute(FILL_USERS.format(**words))
        cursor.execute(FILL_CHANGES.format(**words))
        for table in (USERS, CHANGES):
            cursor.execute(
                f"ANALYZE {'' if connection.vendor == 'postgresql' else 'TABLE '}{table}"
            )


def explained_statements(queries):
    """The statements to explain: reads and writes of rows, not savepoints and inserts."""
    for query in queries.captured_queries:
        sql = query["sql"]
        if sql.lstrip("(").split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE"):
            yield sql


def full_scans_postgres(sql):
    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        [[document]] = cursor.fetchall()
    if isinstance(document, str):
        document = json.loads(document)
    return [
        node["Relation Name"]
        for node in nodes(document[0]["Plan"])
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in (USERS, CHANGES)
    ]


def full_scans_mariadb(sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    # A table read whole is type ALL (an index read whole, "index", is no better).
    # A UNION's own result (<union1,3>, a few rows in memory) is no table.
    return [
        row["table"]
        for row in rows
        if row["type"] in ("ALL", "index") and not str(row["table"]).startswith("<union")
    ]


def full_scans(sql):
    return (
        full_scans_postgres(sql) if connection.vendor == "postgresql" else full_scans_mariadb(sql)
    )


def run_completion_and_revert(make_user, mailoutbox, settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}
    alice = make_user()
    # Another account's old change away from the new address, still undoable,
    # and another's pending change to it: the locks have rows to find.
    make_user("bob", "bob@example.com")
    with CaptureQueriesContext(connection) as queries:
        assert request_change(client_for(alice), "new@example.com").status_code == 302
        confirm_old = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_old).status_code == 200
        confirm_new = f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/"
        assert client_for(alice).post(confirm_new).status_code == 302
        assert email_of(reloaded(alice)) == "new@example.com"
        [notice] = [m for m in mailoutbox if m.to == ["alice@example.com"] and "revert" in m.body]
        revert = revert_path(revert_token_in(notice))
        # With the account's password: immediate (without one it would wait).
        assert client_for(alice).post(revert, {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(alice)) == "alice@example.com"
    return list(explained_statements(queries))


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_postgres_completion_and_revert_read_through_indexes(make_user, mailoutbox, settings):
    fill_history(OLD_ROWS // 2)
    statements = run_completion_and_revert(make_user, mailoutbox, settings)
    assert [sql for sql in statements if "FOR UPDATE" in sql and "LOWER" in sql.upper()]
    scans = {sql: found for sql in statements if (found := full_scans(sql))}
    assert not scans, scans


@pytest.mark.hardening
@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's planner")
def test_mariadb_completion_and_revert_read_through_indexes(
    transactional_db, make_user, mailoutbox, settings
):
    # ANALYZE TABLE commits on MariaDB: the test's rows are flushed after it,
    # not rolled back.
    fill_history(OLD_ROWS // 2)
    statements = run_completion_and_revert(make_user, mailoutbox, settings)
    # The lookups compare the test app's email_lower column (the quickstart's
    # recipe on MariaDB), whose index serves them.
    assert [sql for sql in statements if "`email_lower` IN" in sql]
    scans = {sql: found for sql in statements if (found := full_scans(sql))}
    assert not scans, scans
