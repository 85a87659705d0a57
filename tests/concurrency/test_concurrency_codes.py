"""Codes typed in parallel: the limits hold and a code is used once.

Every racer has its own connection; the code check sleeps after reading the
account's wrong tries, so without the user row lock all racers would read the
same count and each get a guess.
"""

import time

import pytest

from django_verified_email import flows
from django_verified_email.exceptions import ExpiredCode, InvalidCode
from django_verified_email.flows import codes
from django_verified_email.models import EmailChange, WrongCode
from tests.helpers import PASSWORD, code_in, reloaded, run_at_once

pytestmark = pytest.mark.concurrency

WINDOW = 0.2


@pytest.fixture
def slow_code_check(monkeypatch):
    use = codes.use

    def slow(*args, **kwargs):
        time.sleep(WINDOW)
        return use(*args, **kwargs)

    monkeypatch.setattr(codes, "use", slow)


def test_parallel_wrong_codes_never_exceed_the_day_limit(
    settings, user, mailoutbox, slow_code_check
):
    settings.VERIFIED_EMAIL = {"CODE_MAX_ATTEMPTS_PER_DAY": 3, "CODE_MAX_ATTEMPTS": 100}
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url="http://testserver")
    code = code_in(mailoutbox[-1])
    guesses = [f"{(int(code.replace('-', '')) + i) % 10**6:06d}" for i in range(1, 9)]

    results = run_at_once(
        *(lambda g=g: flows.confirm_change_by_code(reloaded(user), g) for g in guesses)
    )

    errors = [type(value) for outcome, value in results if outcome == "error"]
    assert errors.count(InvalidCode) == 3
    assert errors.count(ExpiredCode) == 5
    assert WrongCode.objects.count() == 3


def test_the_same_code_typed_twice_at_once_confirms_once(user, mailoutbox, slow_code_check):
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url="http://testserver")
    code = code_in(mailoutbox[-1])

    results = run_at_once(
        lambda: flows.confirm_change_by_code(reloaded(user), code, base_url="http://testserver"),
        lambda: flows.confirm_change_by_code(reloaded(user), code, base_url="http://testserver"),
    )

    outcomes = sorted(outcome for outcome, _ in results)
    assert outcomes == ["error", "ok"]
    assert EmailChange.objects.get().status == "awaiting_new"
    # One message to the new address, not two.
    assert [m.to for m in mailoutbox] == [["alice@example.com"], ["alice.new@example.com"]]
