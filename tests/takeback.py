"""Taking an account back three ways, for the revoker tests (default and integrations).

``take_back(flow, user, mailoutbox)`` starts what the flow undoes (a change
for a deny or a stop, a completed change for a revert), calls ``before`` (to
hand out the taker's tokens and devices while the account is theirs), then
posts the owner's link to the JSON API, and returns the change.
"""

from django.test import Client

from django_verified_email import flows
from django_verified_email.models import EmailChange
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    call,
    complete_dual_change,
    revert_token_in,
    stop_token_in,
    token_in,
)

FLOWS = ("revert", "deny", "stop")
OWNER = "alice@example.com"
TAKER = "mallory@example.com"


def take_back(flow, user, mailoutbox, before=lambda: None):
    if flow == "revert":
        token = revert_token_in(complete_dual_change(user, TAKER, mailoutbox))
        endpoint = "change-revert"
    elif flow == "deny":
        flows.request_change(user, TAKER, PASSWORD, base_url=BASE_URL)
        token = token_in(mailoutbox[-1], to=OWNER)
        endpoint = "change-deny"
    else:
        flows.request_change(user, TAKER, PASSWORD, base_url=BASE_URL, old_email_lost=True)
        [notice] = [m for m in mailoutbox if m.to == [OWNER]]
        token = stop_token_in(notice)
        endpoint = "change-stop"
    before()
    body = {"token": token, "password": PASSWORD} if flow == "revert" else {"token": token}
    response = call(Client(), endpoint, body)
    assert response.status_code == 200, response.content
    return EmailChange.objects.get(status="completed" if flow == "revert" else "denied")


def owner_notice(mailoutbox):
    """The take-back's confirmation to the owner: the last message to the old address.

    (A revert's and a deny's carry a new-password link; a recovery's stop's
    does not: the mailbox alone proves nothing.)
    """
    return [m for m in mailoutbox if m.to == [OWNER]][-1]
