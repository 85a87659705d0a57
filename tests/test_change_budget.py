"""One account's daily budget of change requests and link emails (N11).

Each request mails an address the account need not own; without a budget one
account could mail anyone without end by asking again with new addresses, or
by resending.
"""

import pytest

from django_verified_email import flows
from django_verified_email.exceptions import Throttled
from django_verified_email.models import EmailChange
from tests.helpers import BASE_URL, PASSWORD, later, reloaded, token_in


@pytest.fixture(autouse=True)
def _no_cooldown(settings):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0}


def ask(user, number):
    return flows.request_change(
        reloaded(user), f"n{number}@example.com", PASSWORD, base_url=BASE_URL
    )


def test_the_defaults_let_a_real_user_ask_ten_times_a_day(user, mailoutbox):
    for number in range(10):
        ask(user, number)

    with pytest.raises(Throttled) as refused:
        ask(user, 10)

    assert 86000 < refused.value.retry_after <= 86400
    assert EmailChange.objects.count() == 10
    assert len(mailoutbox) == 10
    with later(86400 + 1):
        ask(user, 11)
    assert EmailChange.objects.count() == 11


def test_an_unverified_account_cannot_mail_new_addresses_without_end(
    make_user, settings, mailoutbox
):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CHANGE_REQUESTS_PER_DAY": 3}
    sender = make_user("sender", "sender@example.com", verified=False)
    for number in range(3):
        ask(sender, number)
    with pytest.raises(Throttled):
        ask(sender, 3)
    assert [message.to for message in mailoutbox] == [[f"n{n}@example.com"] for n in range(3)]


def test_resends_to_the_new_address_count_toward_the_email_budget(user, settings, mailoutbox):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CHANGE_EMAILS_PER_DAY": 4}
    ask(user, 0)
    flows.confirm_change(token_in(mailoutbox[-1]), base_url=BASE_URL)  # on to the new address
    flows.resend_change(user, base_url=BASE_URL)
    flows.resend_change(user, base_url=BASE_URL)

    with pytest.raises(Throttled) as refused:
        flows.resend_change(user, base_url=BASE_URL)

    assert refused.value.retry_after > 86000
    assert len(mailoutbox) == 4
    assert [message.to for message in mailoutbox[2:]] == [["n0@example.com"]] * 2
    assert EmailChange.objects.get().link_generation == 4


def test_over_budget_the_pages_and_the_api_answer_429_with_retry_after(user, settings, logged_in):
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CHANGE_REQUESTS_PER_DAY": 1}
    settings.ROOT_URLCONF = "tests.api.urls"
    ask(user, 0)

    page = logged_in.post(
        "/account/email/change/", {"new_email": "n1@example.com", "password": PASSWORD}
    )
    api = logged_in.post(
        "/api/account/email/change/",
        {"new_email": "n2@example.com", "password": PASSWORD},
        content_type="application/json",
    )

    assert page.status_code == 429
    assert int(page["Retry-After"]) > 86000
    assert api.status_code == 429
    assert api.json()["code"] == "throttled"
    assert int(api["Retry-After"]) > 86000
    assert EmailChange.objects.count() == 1
