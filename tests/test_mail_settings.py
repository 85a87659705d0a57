"""Mail goes out under either mail configuration, without deprecated calls.

Django 6.1 configures mail with ``MAILERS`` and deprecates ``EMAIL_BACKEND``;
earlier versions only know ``EMAIL_BACKEND``. The default run uses whichever
the installed Django prefers; the tox env ``py313-django61-emailbackend`` runs
6.1 with ``EMAIL_BACKEND`` (``VE_TEST_MAIL_SETTINGS=email_backend``).
"""

import os
import warnings

from django.conf import settings as django_settings
from django.test import Client

from django_verified_email import emails
from tests.helpers import email_of, link_path, request_change, url

from .failing_mail import LOCMEM, REFUSING, use_mail_backend


def django_has_mailers():
    try:
        from django.core.mail import mailers  # noqa: F401
    except ImportError:
        return False
    return True


def test_the_run_uses_the_configuration_it_says():
    wants_email_backend = os.environ.get("VE_TEST_MAIL_SETTINGS") == "email_backend"

    uses_mailers = hasattr(django_settings, "MAILERS")

    assert uses_mailers == (django_has_mailers() and not wants_email_backend)


def test_the_whole_change_flow_sends_mail_without_deprecation_warnings(logged_in, user, mailoutbox):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request_change(logged_in, "new@example.com")
        Client().post(link_path(mailoutbox[-1]))
        Client().post(link_path(mailoutbox[-1]))
        user.refresh_from_db()

    assert email_of(user) == "new@example.com"
    assert [m.to for m in mailoutbox] == [
        ["alice@example.com"],
        ["new@example.com"],
        ["new@example.com"],
        ["alice@example.com"],
    ]
    assert [str(w.message) for w in caught] == []


def test_every_message_is_a_complete_email(logged_in, mailoutbox):
    request_change(logged_in, "new@example.com")

    [message] = mailoutbox
    rendered = message.message()
    assert rendered["From"] == "accounts@example.com"
    assert rendered["To"] == "alice@example.com"
    assert rendered["Subject"] == "testserver: Confirm the change of your email address"
    assert rendered.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in rendered.get_payload()]
    assert parts == ["text/plain", "text/html"]


def test_the_configured_backend_is_the_one_used(logged_in, settings, mailoutbox):
    use_mail_backend(settings, REFUSING)

    assert request_change(logged_in, "new@example.com").status_code == 503
    assert mailoutbox == []

    use_mail_backend(settings, LOCMEM)
    assert logged_in.post(url("change-resend")).status_code == 302
    assert len(mailoutbox) == 1


def test_a_message_no_longer_due_is_not_built(user):
    # A change that does not exist (or was closed) has nothing to send.
    assert emails.build(emails.CHANGE_CONFIRM_OLD, user_id=user.pk, change_id=999) is None
