"""One answer to "same address?": the flows, the lookups and the database agree.

A host may store spellings the app never writes (a trailing dot, a letter
case the database folds differently from Python), and the user model's
case-insensitive unique constraint (``tests/testapp``: the quickstart's
``Lower`` recipe) has the last word. Whatever the spelling, the flow answers
``email_taken`` (400 at the request, 409 at the confirmation), never a 500.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from django_verified_email import addresses, flows, indexes, is_email_verified
from django_verified_email.exceptions import EmailTaken
from django_verified_email.indexes import Capabilities
from django_verified_email.web import http_status
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    complete_dual_change,
    email_of,
    reloaded,
    revert_path,
    revert_token_in,
    save_verified,
    token_in,
)

pytestmark = pytest.mark.hardening

# U+0130 (capital I with a dot above). Python folds it to "i" + U+0307;
# PostgreSQL's LOWER() (glibc, ICU) folds it to a plain "i".
DOTTED_IVAN = "\u0130van@example.com"
DECOMPOSED_IVAN = "i\u0307van@example.com"


def database_folds_alike(first, second):
    """Whether LOWER(), the function of the test app's constraint, makes them one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT LOWER(%s) = LOWER(%s)", [first, second])
        return bool(cursor.fetchone()[0])


def store(user, address):
    """Set an address as the host's own code would: as given, no normalising."""
    setattr(user, user.get_email_field_name(), address)
    user.save()


def confirm_old(mailoutbox):
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)


def confirm_new(mailoutbox):
    """Post the new address's link as its page does."""
    return Client().post(f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/")


@pytest.fixture(params=["declared index", "no index"])
def lookup(request, monkeypatch):
    """Each lookup test runs with the test app's index, and as for a model without one."""
    if request.param == "no index":
        monkeypatch.setattr(addresses, "email_index", lambda model: None)
    return request.param


@pytest.mark.parametrize("stored", ["bob@example.com.", "BOB@Example.COM."])
def test_a_trailing_dot_spelling_stored_by_the_host_is_taken_at_the_request(
    make_user, stored, lookup
):
    make_user("bob", stored)
    alice = make_user()
    with pytest.raises(EmailTaken) as taken:
        flows.request_change(alice, "bob@example.com", PASSWORD, base_url=BASE_URL)
    assert http_status(taken.value) == 400


def test_a_trailing_dot_spelling_stored_after_the_request_is_taken_at_the_confirmation(
    make_user, mailoutbox
):
    alice = make_user()
    bob = make_user("bob", "bob@elsewhere.com")
    flows.request_change(alice, "bob@example.com", PASSWORD, base_url=BASE_URL)
    confirm_old(mailoutbox)
    store(bob, "bob@example.com.")
    # Proved by Bob (an address only typed would be released to Alice).
    save_verified(bob)

    response = confirm_new(mailoutbox)

    assert response.status_code == 409
    assert email_of(reloaded(alice)) == "alice@example.com"


def test_a_twin_python_folds_alike_is_taken(make_user, lookup):
    # Stored by the host as typed; the app's own validator refuses this spelling.
    make_user("bob", DECOMPOSED_IVAN)
    alice = make_user()
    assert addresses.same_address(DOTTED_IVAN, DECOMPOSED_IVAN)
    with pytest.raises(EmailTaken) as taken:
        flows.request_change(alice, DOTTED_IVAN, PASSWORD, base_url=BASE_URL)
    assert http_status(taken.value) == 400


def test_a_twin_the_database_folds_alike_is_taken_at_the_request(make_user, mailoutbox):
    make_user("bob", "ivan@example.com")
    alice = make_user()
    if database_folds_alike(DOTTED_IVAN, "ivan@example.com"):
        # PostgreSQL: the constraint would refuse the write, so the flow does first.
        with pytest.raises(EmailTaken) as taken:
            flows.request_change(alice, DOTTED_IVAN, PASSWORD, base_url=BASE_URL)
        assert http_status(taken.value) == 400
    else:
        # SQLite folds ASCII only: two addresses for the database and for Python.
        flows.request_change(alice, DOTTED_IVAN, PASSWORD, base_url=BASE_URL)
        confirm_old(mailoutbox)
        assert confirm_new(mailoutbox).status_code == 302
        assert email_of(reloaded(alice)) == DOTTED_IVAN


def test_a_twin_the_database_folds_alike_is_taken_at_the_confirmation(make_user, mailoutbox):
    alice = make_user()
    bob = make_user("bob", "bob@example.com")
    flows.request_change(alice, DOTTED_IVAN, PASSWORD, base_url=BASE_URL)
    confirm_old(mailoutbox)
    store(bob, "ivan@example.com")
    save_verified(bob)  # proved: an address only typed would be released

    response = confirm_new(mailoutbox)

    if database_folds_alike(DOTTED_IVAN, "ivan@example.com"):
        assert response.status_code == 409
        assert email_of(reloaded(alice)) == "alice@example.com"
    else:
        assert response.status_code == 302
        assert email_of(reloaded(alice)) == DOTTED_IVAN


@pytest.fixture
def the_constraint(db):
    """Skip where the host's case-insensitive constraint cannot exist.

    A fixture, not a ``skipif`` mark: asking MySQL/MariaDB about features
    opens a connection, which at import (collection) there is not yet.
    """
    if not connection.features.supports_expression_indexes:
        pytest.skip("no case-insensitive constraint without expression indexes (MariaDB)")


needs_the_constraint = pytest.mark.usefixtures("the_constraint")


@pytest.fixture
def blind_lookup(monkeypatch):
    """A lookup that misses what the constraint catches.

    As with a constraint the app cannot read (a ``citext`` column, a
    case-insensitive collation, ``Lower(Trim(...))``): the database's refusal
    at the write is then the answer.
    """
    blind(monkeypatch)


def blind(monkeypatch):
    monkeypatch.setattr(
        addresses,
        "users_with_address",
        lambda address, using=None: get_user_model()._default_manager.none(),
    )


@needs_the_constraint
def test_a_write_the_constraint_refuses_is_email_taken_at_the_confirmation(
    make_user, mailoutbox, blind_lookup
):
    alice = make_user()
    bob = make_user("bob", "bob@elsewhere.com")
    flows.request_change(alice, "bob@example.com", PASSWORD, base_url=BASE_URL)
    confirm_old(mailoutbox)
    store(bob, "BOB@example.com")

    response = confirm_new(mailoutbox)

    assert response.status_code == 409
    assert email_of(reloaded(alice)) == "alice@example.com"
    assert is_email_verified(reloaded(alice))


@needs_the_constraint
def test_a_revert_the_constraint_refuses_is_email_taken(make_user, mailoutbox, monkeypatch):
    alice = make_user()
    notice = complete_dual_change(alice, "alice@new.example.com", mailoutbox)
    make_user("carol", "ALICE@example.com")
    blind(monkeypatch)

    response = client_for(alice).post(revert_path(revert_token_in(notice)), {"password": PASSWORD})

    assert response.status_code == 409
    assert email_of(reloaded(alice)) == "alice@new.example.com"


# MariaDB and MySQL build no partial index: the next test.
@pytest.mark.skipif(connection.vendor == "mysql", reason="no partial indexes")
def test_the_lookup_repeats_the_declared_expression_and_condition(db):
    sql = str(addresses.users_with_address("Bob@Example.com.").query)
    quote = connection.ops.quote_name  # "..." here, `...` on MySQL/MariaDB
    column = f"{quote('testapp_user')}.{quote('email_address')}"
    assert f"LOWER({column}) IN (LOWER(" in sql
    assert f"NOT ({column} = " in sql
    assert "UPPER(" not in sql


@pytest.mark.hardening
def test_where_no_lower_index_is_built_the_lookup_compares_the_generated_column(db, monkeypatch):
    # MariaDB builds neither the Lower() nor a partial index: the test
    # user model's email_lower column (the quickstart's recipe there) serves.
    mariadb = Capabilities("mysql", expression_indexes=False, partial_indexes=False)
    monkeypatch.setattr(indexes, "capabilities", lambda model: mariadb)
    sql = str(addresses.users_with_address("Bob@Example.com.").query)
    quote = connection.ops.quote_name
    assert f"{quote('testapp_user')}.{quote('email_lower')} IN (LOWER(" in sql
    assert "email_address" not in sql.split(" WHERE ")[1]


@pytest.mark.hardening
def test_the_generated_column_finds_the_holder_in_any_case(db, monkeypatch, make_user):
    mariadb = Capabilities("mysql", expression_indexes=False, partial_indexes=False)
    monkeypatch.setattr(indexes, "capabilities", lambda model: mariadb)
    bob = make_user("bob", "Bob@Example.COM")
    make_user("nobody", "", verified=False)  # NULL in the column: blank addresses may repeat
    make_user("noone", "", verified=False)
    assert list(addresses.users_with_address("bob@example.com")) == [bob]
    assert list(addresses.users_with_address("BOB@example.com.")) == [bob]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan format")
def test_sqlite_answers_the_lookup_from_the_constraints_index(db):
    sql, params = addresses.users_with_address("bob@example.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING INDEX testapp_user_email_unique_ci" in plan, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan format")
def test_sqlite_answers_the_generated_column_lookup_from_its_index(db, monkeypatch):
    mariadb = Capabilities("mysql", expression_indexes=False, partial_indexes=False)
    monkeypatch.setattr(indexes, "capabilities", lambda model: mariadb)
    sql, params = addresses.users_with_address("bob@example.com").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    # SQLite keeps the unique constraint in the table, as an automatic index.
    assert "USING INDEX" in plan and "(email_lower=?)" in plan, plan
