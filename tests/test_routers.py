"""Database routers: the models of one flow must be written to one database (E011)."""

import traceback
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.db import connections
from django.test import Client

from django_verified_email import flows, is_email_verified
from django_verified_email.checks import check_one_database_per_flow
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    email_of,
    link_path,
    links_in,
    reloaded,
    revert_token_in,
    token_in,
)


class AuthElsewhere:
    """Sends auth's models to "other" and leaves the rest on the default database."""

    def db_for_write(self, model, **hints):
        return "other" if model._meta.app_label in ("auth", "testapp") else None

    db_for_read = db_for_write


class AllElsewhere:
    """Sends the users and this app's models (and every other model) to "other"."""

    def db_for_write(self, model, **hints):
        return "other"

    db_for_read = db_for_write


def is_revert(message):
    return bool(links_in(message, REVERT_PAGE))


def errors():
    return [e for e in check_one_database_per_flow() if e.level >= checks.ERROR]


def test_a_router_splitting_the_users_from_the_apps_tables_is_an_error(settings):
    settings.DATABASE_ROUTERS = [f"{__name__}.AuthElsewhere"]
    [error] = errors()
    assert error.id == "verified_email.E011"
    assert "testapp.User -> 'other'" in error.msg
    assert "verified_email.EmailChange -> 'default'" in error.msg


def test_one_database_for_all_of_a_flows_models_is_fine(settings):
    assert errors() == []
    settings.DATABASE_ROUTERS = [f"{__name__}.AllElsewhere"]
    assert errors() == []


def test_database_sessions_count_when_they_are_the_session_store(settings):
    class SessionsElsewhere:
        def db_for_write(self, model, **hints):
            return "other" if model._meta.app_label == "sessions" else None

    settings.DATABASE_ROUTERS = [SessionsElsewhere()]
    [error] = errors()
    assert "sessions.Session -> 'other'" in error.msg
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert errors() == []


# The flows under a router, end to end. Each test commits for real
# (transaction=True): a flow's transaction on the wrong database would
# otherwise hide inside the test's own.

SECOND = ["default", "other"]
REPLICATED = ["default", "replica"]


class FlowsElsewhere:
    """The users, auth, this app and what its flows write on "other"; the rest on default."""

    APPS = ("auth", "testapp", "verified_email", "sessions", "authtoken")

    def db_for_write(self, model, **hints):
        return "other" if model._meta.app_label in self.APPS else None

    db_for_read = db_for_write


class PrimaryReplica:
    """Every read on "replica" (the default database's mirror), every write on default."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True


@contextmanager
def statements_on(alias, *, wrong_while):
    """Record the statements sent to ``alias``, and those sent while ``wrong_while()``."""
    seen, wrong = [], []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        if wrong_while():
            wrong.append(f"{caller()}: {sql[:60]}")
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(record):
        yield seen, wrong


def caller():
    """The line of this app that sent the statement being run."""
    ours = [
        frame
        for frame in traceback.extract_stack()
        if "/src/django_verified_email/" in frame.filename
    ]
    return f"{ours[-1].filename.rsplit('/', 2)[-1]}:{ours[-1].lineno}" if ours else "?"


def flow_transaction_elsewhere():
    # A flow's transaction opened on default while its rows are on "other".
    return connections["default"].in_atomic_block and not connections["other"].in_atomic_block


def inside_a_write_transaction():
    # A read on the replica while a flow holds locks on the primary: it may
    # miss what another request committed a moment ago.
    return connections["default"].in_atomic_block


@pytest.mark.django_db(transaction=True, databases=SECOND)
def test_every_write_flow_runs_on_the_database_of_its_models(settings, make_user, mailoutbox):
    settings.DATABASE_ROUTERS = [f"{__name__}.FlowsElsewhere"]
    assert errors() == []
    alice = make_user("alice", "alice@example.com", verified=True)
    carol = make_user("carol", "carol@example.com", verified=False)
    assert alice._state.db == carol._state.db == "other"

    on_other = statements_on("other", wrong_while=flow_transaction_elsewhere)
    on_default = statements_on("default", wrong_while=lambda: True)
    with on_other as (seen, wrong), on_default as (_, astray):
        flows.send_verification(carol, base_url=BASE_URL)
        flows.confirm_verification(token_in(mailoutbox[-1], to="carol@example.com"))
        flows.request_change(alice, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
        flows.confirm_change(token_in(mailoutbox[-1], to="alice@example.com"), base_url=BASE_URL)
        change = flows.confirm_change(
            token_in(mailoutbox[-1], to="alice.new@example.com"), base_url=BASE_URL
        )
        assert change.status == EmailChange.Status.COMPLETED
        notice = next(m for m in mailoutbox if m.to == ["alice@example.com"] and is_revert(m))
        reverted = flows.confirm_revert(
            revert_token_in(notice), password=PASSWORD, base_url=BASE_URL
        )

    assert seen and not wrong, "\n".join(wrong)
    # Not even a transaction opened on default (a revoker's savepoint, say).
    assert not astray, "\n".join(astray)
    assert reverted.reverted_at is not None
    assert is_email_verified(reloaded(carol))
    assert email_of(reloaded(alice)) == "alice@example.com"
    assert is_email_verified(reloaded(alice))
    assert EmailChange.objects.using("other").count() == 1
    assert not EmailChange.objects.using("default").exists()
    assert not get_user_model()._default_manager.using("default").exists()


@pytest.mark.django_db(transaction=True, databases=REPLICATED)
def test_a_confirmation_link_posted_twice_reads_the_primary_after_its_locks(
    settings, make_user, mailoutbox
):
    settings.DATABASE_ROUTERS = [f"{__name__}.PrimaryReplica"]
    alice = make_user("alice", "alice@example.com", verified=True)
    client = Client()

    with statements_on("replica", wrong_while=inside_a_write_transaction) as (seen, wrong):
        flows.request_change(alice, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
        old_step = link_path(mailoutbox[-1], to="alice@example.com")
        # Opening the page only reads: the replica may answer.
        shown = client.get(old_step)
        first = client.post(old_step)
        second = client.post(old_step)
        new_step = link_path(mailoutbox[-1], to="alice.new@example.com")
        third = client.post(new_step)
        fourth = client.post(new_step)
        notice = next(m for m in mailoutbox if m.to == ["alice@example.com"] and is_revert(m))
        flows.confirm_revert(revert_token_in(notice), password=PASSWORD, base_url=BASE_URL)

    assert seen, "the router sent no read to the replica"
    assert not wrong, "\n".join(wrong)
    assert shown.status_code == 200
    assert (first.status_code, third.status_code) == (200, 302)
    # The second post of each link finds it used: the invalid-link page.
    assert (second.status_code, fourth.status_code) == (400, 400)
    assert email_of(reloaded(alice)) == "alice@example.com"
    assert EmailChange.objects.get().reverted_at is not None
