"""The flows for a user model keyed by a UUID (run by tests/test_uuid_user.py).

JSON cannot carry a ``uuid.UUID``: every link and every queued message of
such a user went through a serializer that raised before the fix.
"""

import uuid
from importlib import import_module
from importlib.util import find_spec

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from django_verified_email import flows, is_email_verified, tokens
from django_verified_email.exceptions import InvalidToken
from django_verified_email.models import EmailChange
from tests.helpers import (
    PASSWORD,
    REVERT_PAGE,
    client_for,
    email_of,
    later,
    link_in,
    link_path,
    no_cooldown,
    path_of,
    reloaded,
    request_change,
    send_verification,
    token_of,
)

DAY = 86400
TASKS_PACKAGE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
BASE_URL = "https://accounts.example.com"


@pytest.fixture
def unverified(make_user):
    return make_user(username="bob", email="bob@example.com", verified=False)


def test_the_user_model_is_keyed_by_a_uuid(user):
    assert get_user_model()._meta.label == "uuid_user.User"
    assert isinstance(user.pk, uuid.UUID)


def test_the_user_models_migrations_are_committed(db):
    call_command("makemigrations", "uuid_user", "--check", "--dry-run", verbosity=0)


def test_verify_send_and_confirm(unverified, mailoutbox):
    assert send_verification(client_for(unverified)).status_code == 302

    link = link_path(mailoutbox[0], to="bob@example.com")
    assert tokens.read_verify_token(token_of(link)).user_id == str(unverified.pk)
    assert Client().get(link).status_code == 200
    assert Client().post(link).status_code == 302
    assert is_email_verified(reloaded(unverified))


def test_dual_link_change_end_to_end_then_revert(user, mailoutbox):
    browser = client_for(user)
    assert request_change(browser, "new@example.com").status_code == 302
    old_link = link_path(mailoutbox[0], to="alice@example.com")

    assert Client().post(old_link).status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"
    new_link = link_path(mailoutbox[1], to="new@example.com")

    assert browser.post(new_link).status_code == 302
    stored = reloaded(user)
    assert (email_of(stored), is_email_verified(stored)) == ("new@example.com", True)
    assert EmailChange.objects.get().status == "completed"

    [notice] = [message for message in mailoutbox if message.to == ["alice@example.com"]][1:]
    revert_link = link_in(notice, pages=REVERT_PAGE)
    revert_path = path_of(revert_link)
    assert tokens.read_revert_token(token_of(revert_path)).user_id == str(user.pk)
    assert Client().get(revert_path).status_code == 200
    assert Client().post(revert_path, {"password": PASSWORD}).status_code == 200
    assert email_of(reloaded(user)) == "alice@example.com"
    assert EmailChange.objects.get().reverted_at is not None


def test_expired_verification_link_is_swapped_in_place(unverified, make_user, mailoutbox):
    assert send_verification(client_for(unverified)).status_code == 302
    expired = link_path(mailoutbox[0], to="bob@example.com")
    other = make_user(username="carol", email="carol@example.com", verified=False)

    with later(DAY + 1):
        with pytest.raises(InvalidToken):
            flows.resend_verification_in_place_of(token_of(expired), other, base_url=BASE_URL)
        assert len(mailoutbox) == 1

        flows.resend_verification_in_place_of(token_of(expired), unverified, base_url=BASE_URL)
        fresh = link_path(mailoutbox[1], to="bob@example.com")
        assert fresh != expired
        assert Client().post(fresh).status_code == 302
    assert is_email_verified(reloaded(unverified))


def test_expired_change_link_is_swapped_in_place(user, make_user, mailoutbox):
    assert request_change(client_for(user), "new@example.com").status_code == 302
    expired = link_path(mailoutbox[0], to="alice@example.com")
    other = make_user(username="carol", email="carol@example.com")

    with later(DAY + 1):
        with pytest.raises(InvalidToken):
            flows.resend_change_in_place_of(token_of(expired), other, base_url=BASE_URL)
        assert len(mailoutbox) == 1

        flows.resend_change_in_place_of(token_of(expired), user, base_url=BASE_URL)
        fresh = link_path(mailoutbox[1], to="alice@example.com")
        assert fresh != expired
        assert Client().post(fresh).status_code == 200
    assert EmailChange.objects.get().status == "awaiting_new"


def test_tasks_delivery_carries_the_uuid_as_text(settings, unverified, mailoutbox):
    settings.TASKS = {
        "default": {"BACKEND": f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"}
    }
    no_cooldown(settings, DELIVERY="tasks", BASE_URL=BASE_URL)
    finished = []

    def heard(sender, task_result, **kwargs):
        finished.append(task_result)

    task_finished = import_module(f"{TASKS_PACKAGE}.signals").task_finished
    task_finished.connect(heard)
    try:
        flows.send_verification(unverified)
        verify_link = link_path(mailoutbox[0], to="bob@example.com")
        assert Client().post(verify_link).status_code == 302

        browser = client_for(reloaded(unverified))
        assert request_change(browser, "robert@example.com").status_code == 302
        old_link = link_path(mailoutbox[1], to="bob@example.com")
        assert Client().post(old_link).status_code == 200
        new_link = link_path(mailoutbox[2], to="robert@example.com")
        assert browser.post(new_link).status_code == 302
    finally:
        task_finished.disconnect(heard)

    assert email_of(reloaded(unverified)) == "robert@example.com"
    # Verify, confirm old, confirm new, then "completed" and the old address's notice.
    assert len(mailoutbox) == 5
    assert [result.status for result in finished] == ["SUCCESSFUL"] * 5
    assert {result.kwargs["user_id"] for result in finished} == {str(unverified.pk)}
