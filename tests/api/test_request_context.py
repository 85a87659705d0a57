"""The API's change request records where it came from, as the HTML one does."""

import pytest
import time_machine

from django_verified_email.models import EmailChange
from tests.helpers import PASSWORD, call
from tests.test_request_context import FIREFOX_ANDROID, NOW, SENTENCE, assert_says

pytest.importorskip("ua_parser")


@time_machine.travel(NOW, tick=False)
def test_the_api_captures_the_same_context(logged_in, mailoutbox):
    response = call(
        logged_in,
        "change",
        {"new_email": "alice.new@example.com", "password": PASSWORD},
        REMOTE_ADDR="27.34.1.2",
        HTTP_USER_AGENT=FIREFOX_ANDROID,
        HTTP_X_FORWARDED_FOR="6.6.6.6",
    )

    assert response.status_code == 202, response.content
    change = EmailChange.objects.get()
    assert (change.requested_ip, change.requested_browser, change.requested_os) == (
        "27.34.1.2",
        "Firefox Mobile",
        "Android",
    )
    [message] = mailoutbox
    assert_says(message, SENTENCE)
