"""Small steps the hardening tests share."""

import re

from django_verified_email import flows

from ..conftest import PASSWORD, link_in, path_of

BASE_URL = "http://testserver"
REVERT_RE = re.compile(r"https?://[^\s\"'<>]+/change/revert/([^\s\"'<>/]+)/")


def token_of(message):
    return path_of(link_in(message)).rstrip("/").rsplit("/", 1)[-1]


def revert_token_of(message):
    tokens = set(REVERT_RE.findall(message.body))
    assert len(tokens) == 1, message.body
    return tokens.pop()


def revert_path(token):
    return f"/account/email/change/revert/{token}/"


def complete_dual_change(user, new_email, mailoutbox):
    """Run the dual-link flow to its end; returns the notice sent to the old address."""
    sent_before = len(mailoutbox)
    flows.request_change(user, new_email, PASSWORD, base_url=BASE_URL)
    flows.confirm_change(token_of(mailoutbox[-1]), base_url=BASE_URL)
    flows.confirm_change(token_of(mailoutbox[-1]), base_url=BASE_URL)
    [notice] = [m for m in mailoutbox[sent_before:] if REVERT_RE.search(m.body)]
    return notice
