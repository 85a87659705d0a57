"""Query budgets per step of the HTML flows, so a regression fails CI.

Each request runs as in production: a session-authenticated client, autocommit
(no test transaction around it, hence ``transaction=True``), and the emails
built and sent after the commit. Budgets count data statements and the
transactions a step commits; whether ``BEGIN``/``COMMIT`` show up as queries
depends on the Django version and the backend, so it is measured and added,
and one budget holds on every version and database.
The same budgets must hold with many rows already in the tables: no step may
scan or load the history of other users or past changes.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_verified_email import flows, is_email_verified
from django_verified_email.models import EmailChange, keeps_own_state
from tests.helpers import PASSWORD, email_of, fill_tables, later, link_in, path_of

pytestmark = pytest.mark.django_db(transaction=True)

# Per step: data statements (session and user lookups included), the
# transactions it commits, each adding BEGIN and COMMIT where Django logs them,
# and the savepoints it makes, if any.
# Making an address verified locks its AddressLock row (one upsert, whether
# the row exists or not) and reads the holders again under that lock: no two
# accounts prove one address at once. Without row locks (SQLite) the lock
# comes first and the holders are read once, after it (flows/_common.py).
ADDRESS_LOCK = 2 if connection.features.has_select_for_update else 1

BUDGETS = {
    # Session, user, the attempt reserved (the user's row locked, then the
    # insert, in a transaction of its own: parallel guesses must see it, and
    # every writer of attempts locks the user first; its success also says
    # no lockout holds); then one transaction: the user's row locked and
    # read, the pending change and the reverts that lock changes (one
    # read), whether the address is taken (after the lock, so they see what
    # a racing request committed), the right password's count forgotten
    # (delete), the account's daily budget (counted from the read of the
    # pending change), the new change, and the code of its email (the code it
    # replaces read, the new hash written), and the password hash of the
    # moment (what proves the owner in a revert).
    "request change": (12, 2),
    # The step and the code of the new address's email, in one transaction:
    # the user's row locked before the change's (storing the code takes it;
    # one read where the database has no row locks), the change updated,
    # whether the new address is taken, the code.
    "confirm old": (6, 1),
    # Session and user; then the user's row and the changes to the address
    # locked (one read without row locks), the address's holders read (one
    # read for "taken?" and "release whom?"), the user and the change
    # updated, and the session given a new key, all committed together; then
    # the session middleware's save, in a transaction of its own. The new key
    # is Django's cycle_key(): a free key looked up, the new row inserted (in
    # a savepoint), the old row read and deleted; three statements and a
    # savepoint more than renaming the row, which took Django's private
    # session attributes. With rest_framework.authtoken installed (these
    # settings), the user's other tokens end with the other sessions: one
    # delete, in a savepoint.
    # Then the address lock (``ADDRESS_LOCK``).
    "confirm new": (13 + ADDRESS_LOCK, 2, 2),
    # Session, user, the pending change, and the two locks the page shows
    # before the form: a password lockout (its row), a revert's lock.
    "status page": (5, 0),
    # The resend, and the code of its email, in one transaction; the user's
    # row locked first (see "confirm old"), then the account's daily budget.
    "resend": (10, 1),
    "cancel": (4, 1),
}
# The whole dual-link flow (request, confirm old, confirm new), session
# authentication and the codes of the two link emails included; the new
# session key is cycle_key()'s ("confirm new"), and the user's DRF tokens
# end at completion (rest_framework.authtoken is installed), and the password
# hash kept at the request (a revert's proof of ownership).
FLOW_BUDGET = 31 + ADDRESS_LOCK  # the address lock of "confirm new"
# Giving the session a new key at completion, with the database session
# backend: cycle_key() (a free key looked up, the new row inserted, the old
# row read and deleted), then the middleware's save.
SESSION_ROTATION_BUDGET = 5
# The profile store (a user model without the mixin, VE_TEST_STORE=profile)
# may cost at most this many data statements more per step: its row read
# for the session epoch (SessionEpochMiddleware: auth.User's session hash
# can't carry it), and its own UPDATE beside the user's. Its row is locked
# and read with the user's, in one statement (models.lock_user). The mixin
# keeps the state in the user's row: no extra join, no extra row.
STORE_EXTRA = 0 if keeps_own_state(get_user_model()) else 2
# The same, for the whole flow: the session epoch read once (the request),
# and the profile's UPDATE. The completing request judges the session's epoch
# against the state it reads under the user's lock anyway
# (middleware.judged_after_move): no read of its own.
FLOW_STORE_EXTRA = 0 if keeps_own_state(get_user_model()) else 2
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
MANY = 2_000


def is_transaction_control(sql):
    return sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


@pytest.fixture(params=[1, MANY], ids=["1-row", f"{MANY}-rows"])
def rows(request, transactional_db):
    fill_tables(request.param)
    return request.param


@pytest.fixture
def session_client(client, make_user):
    """A client logged in with a real session, as a browser would be."""
    user = make_user(username="budget", email="budget@example.com", verified=True)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def step_budget(transactional_db):
    """Budget of a step, with the BEGIN and COMMIT this backend and Django log."""
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        get_user_model().objects.exists()
    control = [q for q in queries.captured_queries if is_transaction_control(q["sql"])]
    # Logged or not depending on the Django version and the database backend.
    assert len(control) in (0, 2), control

    def budget(step):
        statements, transactions, *savepoints = BUDGETS[step]
        # SAVEPOINT and RELEASE are statements on every backend: always logged.
        return statements + STORE_EXTRA + transactions * len(control) + 2 * sum(savepoints)

    return budget


def post_change(client, new_email="budget.new@example.com"):
    return client.post(
        reverse("verified_email:change"), {"new_email": new_email, "password": PASSWORD}
    )


def test_dual_link_flow_steps_stay_in_budget(
    rows, session_client, mailoutbox, django_assert_max_num_queries, step_budget
):
    client = session_client
    with django_assert_max_num_queries(step_budget("request change")):
        response = post_change(client)
    assert response.status_code == 302
    with django_assert_max_num_queries(step_budget("confirm old")):
        response = client.post(path_of(link_in(mailoutbox[-1])))
    assert response.status_code == 200
    with django_assert_max_num_queries(step_budget("confirm new")):
        response = client.post(path_of(link_in(mailoutbox[-1])))
    assert response.status_code == 302
    client.user.refresh_from_db()
    assert email_of(client.user) == "budget.new@example.com"
    assert is_email_verified(client.user)
    assert EmailChange.objects.count() == rows + 1


def data_statements(queries):
    return [q["sql"] for q in queries.captured_queries if not is_transaction_control(q["sql"])]


def test_whole_dual_link_flow_needs_at_most_33_queries(rows, session_client, mailoutbox):
    """Request, confirm old, confirm new: 33 queries, session authentication included.

    31, and the address lock a completion takes (``ADDRESS_LOCK``: 2, 1 on SQLite).

    That includes giving the session a new key once the address changed, at
    its dearest: with the database session backend.
    """
    client = session_client
    flow, rotation = [], []
    for post, status in (
        (lambda: post_change(client), 302),
        (lambda: client.post(path_of(link_in(mailoutbox[-1]))), 200),
        (lambda: client.post(path_of(link_in(mailoutbox[-1]))), 302),
    ):
        with CaptureQueriesContext(connection) as queries:
            assert post().status_code == status
        statements = data_statements(queries)
        flow += statements
        session = [sql for sql in statements if "django_session" in sql]
        rotation += session[1:]  # the first read of the session is authentication
    assert len(flow) <= FLOW_BUDGET + FLOW_STORE_EXTRA, "\n".join(flow)
    assert len(rotation) <= SESSION_ROTATION_BUDGET, "\n".join(rotation)
    assert any("django_session" in sql for sql in flow)
    assert len(mailoutbox) == 4


def test_status_resend_and_cancel_stay_in_budget(
    rows, session_client, mailoutbox, django_assert_max_num_queries, step_budget
):
    client = session_client
    assert post_change(client).status_code == 302
    with django_assert_max_num_queries(step_budget("status page")):
        response = client.get(reverse("verified_email:status"))
    assert response.status_code == 200
    assert b"budget.new@example.com" in response.content
    # Past the resend cooldown, without waiting for it.
    caches["default"].clear()
    with django_assert_max_num_queries(step_budget("resend")):
        response = client.post(reverse("verified_email:change-resend"))
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    with django_assert_max_num_queries(step_budget("cancel")):
        response = client.post(reverse("verified_email:change-cancel"))
    assert response.status_code == 302
    assert not EmailChange.objects.pending().filter(user=client.user).exists()


def flow_query_counts(client, mailoutbox, new_email):
    counts = []
    for post in (
        lambda: post_change(client, new_email),
        lambda: client.post(path_of(link_in(mailoutbox[-1]))),
        lambda: client.post(path_of(link_in(mailoutbox[-1]))),
    ):
        with CaptureQueriesContext(connection) as queries:
            post()
        counts.append(len(queries.captured_queries))
    return counts


def test_query_count_does_not_grow_with_the_tables(client, make_user, mailoutbox):
    first = make_user(username="first", email="first@example.com")
    client.force_login(first)
    before = flow_query_counts(client, mailoutbox, "first.new@example.com")

    fill_tables(MANY)
    # Past changes of the user too, not only of others.
    second = make_user(username="second", email="second@example.com")
    EmailChange.objects.bulk_create(
        EmailChange(user=second, new_email=f"old{i}@example.com", status="superseded")
        for i in range(50)
    )
    client.force_login(second)
    after = flow_query_counts(client, mailoutbox, "second.new@example.com")

    assert after == before
    first.refresh_from_db()
    second.refresh_from_db()
    assert email_of(first) == "first.new@example.com"
    assert email_of(second) == "second.new@example.com"


def test_emails_sent_after_a_callers_commit_read_the_rows_again(user, mailoutbox):
    """Only right after the flow's own commit are its rows reused for the email.

    Inside the caller's transaction (``ATOMIC_REQUESTS``) the email waits for
    that commit, and the request may have moved on meanwhile: here it cancels
    the change, so the link must not go out.
    """
    with transaction.atomic():
        flows.request_change(user, "later@example.com", PASSWORD, base_url="https://example.com")
        flows.cancel_change(user)
    assert mailoutbox == []
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.CANCELLED


RECOVERY_DELAY = 604800  # the default: 7 days


def recovery_query_counts(client, mailoutbox, new_email):
    """Statements of a recovery: the request, the new address's link, the completion."""
    user = client.user
    counts = []
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("verified_email:change"),
            {"new_email": new_email, "password": PASSWORD, "old_email_lost": "on"},
        )
    assert response.status_code == 302
    counts.append(len(data_statements(queries)))
    [link_email] = [m for m in mailoutbox if m.to == [new_email]]
    with CaptureQueriesContext(connection) as queries:
        assert client.post(path_of(link_in(link_email))).status_code == 200
    counts.append(len(data_statements(queries)))
    with later(RECOVERY_DELAY - 20 * 3600):
        flows.complete_due(base_url="https://example.com")  # the reminder, on time
    with later(RECOVERY_DELAY + 1), CaptureQueriesContext(connection) as queries:
        flows.complete_due(base_url="https://example.com")
    counts.append(len(data_statements(queries)))
    user.refresh_from_db()
    assert email_of(user) == new_email
    return counts


# A recovery's steps, in data statements on PostgreSQL (SQLite reads the
# user and the change in one statement where PostgreSQL locks one, then the
# other): the request, as in the dual-link flow; the new address's link
# (session and user, the user's and the change's locks, is the address
# taken, the change scheduled; the session is left alone, the address has
# not changed yet); the completion by ``complete_due`` (owed notices, owed
# access revokers, due changes and due reverts looked up, the change's user and the
# change locked, the address's holders, the user and the change updated,
# the user's API tokens deleted, the next batch and reminders looked up,
# and the run recorded).
# The completion then takes the address lock (``ADDRESS_LOCK``).
RECOVERY_BUDGETS = [12, 6, 14 + ADDRESS_LOCK]


def test_a_recovery_stays_in_budget_whatever_the_tables_hold(rows, session_client, mailoutbox):
    counts = recovery_query_counts(session_client, mailoutbox, "budget.new@example.com")

    budgets = [budget + STORE_EXTRA for budget in RECOVERY_BUDGETS]
    assert all(count <= budget for count, budget in zip(counts, budgets, strict=True)), counts
