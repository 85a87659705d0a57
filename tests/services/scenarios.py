"""The end-to-end runs each service suite makes with its own worker."""

from django_verified_email import is_email_verified
from django_verified_email.models import EmailChange
from tests.helpers import request_change, send_verification

from . import mailbox

NEW = "alice.new@example.com"


def confirm(client, path, status):
    response = client.post(path)
    assert response.status_code == status, response.content
    return response


def dual_link_flow(client, user):
    """Request, old link from the worker, confirm, new link, confirm, completion emails."""
    client.force_login(user)
    assert request_change(client, NEW).status_code == 302

    [to_old] = mailbox.wait_for(1)
    assert to_old.to == ["alice@example.com"]
    confirm(client, to_old.link_path(), 200)

    to_new = mailbox.wait_for(2)[1]
    assert to_new.to == [NEW]
    confirm(client, to_new.link_path(), 302)

    user.refresh_from_db()
    assert user.email_address == NEW
    assert is_email_verified(user)
    completion = mailbox.wait_for(4)[2:]
    assert sorted(message.to[0] for message in completion) == sorted(["alice@example.com", NEW])
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.COMPLETED


def requests_while_the_worker_is_down(client, make_user, worker, queued):
    """Requests made with the worker stopped are all sent once it is back, once each.

    ``queued()`` counts the tasks waiting in the queue.
    """
    worker.stop()
    users = [make_user(f"user{n}", f"user{n}@example.com") for n in range(5)]
    for user in users:
        client.force_login(user)
        assert request_change(client, f"{user.username}.new@example.com").status_code == 302
    assert queued() == len(users)
    assert mailbox.received() == []

    # The last in line: once it is out, everything queued before it is too,
    # so any second copy would already be there.
    marker = make_user("marker", "marker@example.com", verified=False)
    client.force_login(marker)
    assert send_verification(client).status_code == 302

    worker.start()
    messages = mailbox.wait_for(len(users) + 1)

    assert messages[-1].to == ["marker@example.com"]
    assert queued() == 0
    assert sorted(message.to[0] for message in messages[:-1]) == sorted(
        user.email_address for user in users
    )
    for user, message in zip(users, sorted(messages[:-1], key=lambda m: m.to[0]), strict=True):
        assert message.to == [user.email_address]
        confirm(client, message.link_path(), 200)
    assert EmailChange.objects.filter(status=EmailChange.Status.AWAITING_NEW).count() == len(users)

    # Each confirmation queued the new address's link, which goes out too.
    to_new = mailbox.wait_for(len(users) * 2 + 1)[len(users) + 1 :]
    assert sorted(message.to[0] for message in to_new) == sorted(
        f"{user.username}.new@example.com" for user in users
    )
