"""No live link in a 500's error report, on any API view that builds one."""

import pytest

from django_verified_email import flows
from tests.helpers import BASE_URL, PASSWORD, call, token_in
from tests.test_error_reports import assert_no_link_in_the_report

pytestmark = pytest.mark.hardening


def change_pending(user, mailoutbox):
    flows.request_change(user, "new@example.com", PASSWORD, base_url=BASE_URL)
    return token_in(mailoutbox[-1])


def api_verify_send(user, mailoutbox):
    return lambda c: call(c, "verify-send")


def api_change(user, mailoutbox):
    return lambda c: call(c, "change", {"new_email": "new@example.com", "password": PASSWORD})


def api_confirm_old(user, mailoutbox):
    token = change_pending(user, mailoutbox)
    return lambda c: call(c, "change-confirm", {"token": token})


def api_resend(user, mailoutbox):
    change_pending(user, mailoutbox)
    return lambda c: call(c, "change-resend")


SURFACES = {
    "verify send": (api_verify_send, False),
    "change request": (api_change, True),
    "confirm old": (api_confirm_old, True),
    "resend": (api_resend, True),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_an_error_report_after_a_link_was_built_carries_no_link(
    surface, make_user, settings, mailoutbox, caplog
):
    assert_no_link_in_the_report(SURFACES, surface, make_user, settings, mailoutbox, caplog)
