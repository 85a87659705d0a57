"""Every link is read by one ladder (flows.links): one DEBUG line per refusal, read once."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_verified_email import flows, tokens
from django_verified_email.conf import app_settings
from django_verified_email.exceptions import ExpiredToken, InvalidToken
from django_verified_email.models import EmailChange
from django_verified_email.tokens import Step
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    complete_dual_change,
    later,
    mark_verified_at,
    reloaded,
    revert_token_in,
    token_in,
    url,
)

NEW = "alice.new@example.com"
LOGGER = "django_verified_email"


def refusals(caplog):
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.getMessage().startswith("Refused a ")
    ]


def pending(user, *, lost=False):
    flows.request_change(user, NEW, PASSWORD, base_url=BASE_URL, old_email_lost=lost)
    return EmailChange.objects.get(user=user, status__in=EmailChange.PENDING_STATUSES)


def deactivate(user):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)


def new_password(user):
    user = reloaded(user)
    user.set_password("another passphrase entirely")
    user.save()


def new_address_outside_the_flows(user):
    get_user_model().objects.filter(pk=user.pk).update(email_address="elsewhere@example.com")


def gone_change(user):
    return EmailChange(pk=10**6, user=user, link_generation=1)


# Each case: (its reason, build(user, mailoutbox) -> (check, token)); build
# spoils the link the way the reason names.


def verify_case(spoil):
    def build(make_user, mailoutbox):
        user = make_user(verified=False)
        token = tokens.make_verify_token(user)
        spoil(user)
        return flows.check_verification, token

    return build


def change_case(step, spoil, check=flows.check_change):
    def build(make_user, mailoutbox):
        user = make_user()
        change = pending(user)
        token = tokens.make_change_token(change, step)
        spoil(user, change)
        return check, token

    return build


def stop_case(spoil, *, lost=True, for_change=lambda change, other: change):
    def build(make_user, mailoutbox):
        user = make_user()
        other = make_user("bob", "bob@example.com")
        change = pending(user, lost=lost)
        token = tokens.make_stop_token(for_change(change, other))
        spoil(user, change)
        return flows.check_stop, token

    return build


def set_password_case(spoil):
    def build(make_user, mailoutbox):
        user = make_user()
        token = tokens.make_set_password_token(user)
        spoil(user)
        return flows.check_set_password, token

    return build


def nothing(*args):
    pass


def as_other(change, other):
    return EmailChange(pk=change.pk, user=other, user_id=other.pk)


CASES = {
    "verify: malformed": (
        "Refused a verify link: malformed, forged, or signed with an unknown key",
        lambda make_user, mailoutbox: (flows.check_verification, "not-a-token"),
    ),
    "verify: no user": (
        "Refused a verify link: no such user",
        verify_case(lambda user: user.delete()),
    ),
    "verify: verified": (
        "Refused a verify link: the address is verified already",
        verify_case(lambda user: mark_verified_at(user, timezone.now())),
    ),
    "verify: inactive": ("Refused a verify link: inactive user", verify_case(deactivate)),
    "verify: moved on": (
        "Refused a verify link: the account moved on since it was sent",
        verify_case(new_password),
    ),
    "change: malformed": (
        "Refused a change link: malformed, forged, or signed with an unknown key",
        lambda make_user, mailoutbox: (flows.check_change, "x" * 2000),
    ),
    "change: no change": (
        "Refused a change link: no such change",
        change_case(Step.OLD, lambda user, change: change.delete()),
    ),
    "change: step done": (
        "Refused a change link: the step is done, or a newer link was sent",
        change_case(Step.NEW, nothing),
    ),
    "change: inactive": (
        "Refused a change link: inactive user",
        change_case(Step.OLD, lambda user, change: deactivate(user)),
    ),
    "change: moved on": (
        "Refused a change link: the account moved on since it was sent",
        change_case(Step.OLD, lambda user, change: new_password(user)),
    ),
    "deny: new address's link": (
        "Refused a deny link: not the old address's link",
        change_case(Step.NEW, nothing, check=flows.check_deny),
    ),
    "deny: moved on": (
        "Refused a deny link: the account moved on since it was sent",
        change_case(Step.OLD, lambda user, change: new_password(user), check=flows.check_deny),
    ),
    "stop: malformed": (
        "Refused a stop link: malformed, forged, or signed with an unknown key",
        lambda make_user, mailoutbox: (flows.check_stop, None),
    ),
    "stop: another account": (
        "Refused a stop link: for another account",
        stop_case(nothing, for_change=as_other),
    ),
    "stop: not a recovery": (
        "Refused a stop link: the recovery is no longer pending",
        stop_case(nothing, lost=False),
    ),
    "stop: inactive": (
        "Refused a stop link: inactive user",
        stop_case(lambda user, change: deactivate(user)),
    ),
    "stop: old address gone": (
        "Refused a stop link: the account no longer has the old address",
        stop_case(lambda user, change: new_address_outside_the_flows(user)),
    ),
    "set-password: no user": (
        "Refused a set-password link: no such user",
        set_password_case(lambda user: user.delete()),
    ),
    "set-password: moved on": (
        "Refused a set-password link: the account moved on since it was sent",
        set_password_case(new_password),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_each_refusal_logs_its_one_reason(case, make_user, mailoutbox, caplog):
    reason, build = CASES[case]
    check, token = build(make_user, mailoutbox)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(InvalidToken):
        check(token)
    assert refusals(caplog) == [reason]
    if isinstance(token, str) and token:
        assert token not in caplog.text


@pytest.fixture
def completed(user, mailoutbox):
    notice = complete_dual_change(user, NEW, mailoutbox)
    return EmailChange.objects.get(user=user), revert_token_in(notice)


def refused_revert(token, caplog):
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(InvalidToken):
        flows.check_revert(token)
    return refusals(caplog)


def test_a_revert_refusal_logs_its_one_reason(completed, user, make_user, caplog):
    change, token = completed
    other = make_user("bob", "bob@example.com")
    assert refused_revert(tokens.make_revert_token(as_other(change, other)), caplog) == [
        "Refused a revert link: for another account"
    ]
    assert refused_revert(tokens.make_revert_token(gone_change(user)), caplog) == [
        "Refused a revert link: no such change"
    ]
    new_address_outside_the_flows(user)
    assert refused_revert(token, caplog) == [
        "Refused a revert link: the address was set outside the flows since"
    ]
    deactivate(user)
    assert refused_revert(token, caplog) == ["Refused a revert link: inactive user"]
    EmailChange.objects.filter(pk=change.pk).update(old_email="")
    assert refused_revert(token, caplog) == [
        "Refused a revert link: not completed, undone already, or no old address"
    ]


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("verify", flows.check_verification),
        ("change", flows.check_change),
        ("set-password", flows.check_set_password),
    ],
)
def test_an_expired_link_logs_that_it_expired(kind, check, make_user, caplog):
    user = make_user(verified=kind != "verify")
    if kind == "verify":
        token = tokens.make_verify_token(user)
    elif kind == "change":
        token = tokens.make_change_token(pending(user), Step.OLD)
    else:
        token = tokens.make_set_password_token(user)
    with later(app_settings.LINK_MAX_AGE + 3600):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(ExpiredToken):
            check(token)
    assert refusals(caplog) == [f"Refused a {kind} link: expired"]


def test_a_change_link_says_old_and_new_as_it_always_did(user):
    change = pending(user)
    for step, value in [(Step.OLD, "old"), (Step.NEW, "new")]:
        token = tokens.make_change_token(change, step)
        payload = tokens._serializer(tokens.CHANGE_SALT).loads(token)
        assert payload["s"] == value
        link = tokens.read_change_token(token)
        assert link.step == value and str(link.step) == value and link.step is step


def test_a_change_link_of_an_unknown_step_is_invalid(user):
    change = pending(user)
    forged = tokens._serializer(tokens.CHANGE_SALT).dumps(
        {"c": change.pk, "s": "middle", "g": 1, "f": ""}
    )
    with pytest.raises(InvalidToken):
        flows.check_change(forged)


@pytest.fixture
def reads(monkeypatch):
    """Count the tokens the request decodes and signature-checks."""
    counted = []
    read = tokens._read

    def counting(token, salt, *args, **kwargs):
        counted.append(salt)
        return read(token, salt, *args, **kwargs)

    monkeypatch.setattr(tokens, "_read", counting)
    return counted


@pytest.mark.parametrize("logout_others", [False, True])
def test_one_confirm_post_reads_its_link_once(
    user, client, mailoutbox, reads, settings, logout_others
):
    settings.VERIFIED_EMAIL = {"LOGOUT_OTHER_SESSIONS": logout_others}
    flows.request_change(user, NEW, PASSWORD, base_url=BASE_URL)
    response = client.post(url("change-confirm", token=token_in(mailoutbox[-1])))
    assert response.status_code == 200
    assert reads == [tokens.CHANGE_SALT]
    reads.clear()
    response = client.post(url("change-confirm", token=token_in(mailoutbox[-1])))
    assert response.status_code == 302
    assert reads == [tokens.CHANGE_SALT]


def test_one_deny_post_reads_its_link_once(user, client, mailoutbox, reads):
    flows.request_change(user, NEW, PASSWORD, base_url=BASE_URL)
    token = token_in(mailoutbox[-1])
    response = client.post(url("change-confirm", token=token), {"deny": "1"})
    assert response.status_code == 200
    assert EmailChange.objects.get(user=user).status == EmailChange.Status.DENIED
    assert reads == [tokens.CHANGE_SALT]
