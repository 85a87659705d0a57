"""Mail backends that fail the way a real mail server does, for delivery tests."""

import smtplib
import warnings
from contextlib import contextmanager

from django.conf import settings as django_settings
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
REFUSING = "tests.failing_mail.RefusingBackend"
UNREACHABLE = "tests.failing_mail.UnreachableBackend"


class RefusingBackend(BaseEmailBackend):
    """The server answers, then refuses the message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPException("451 try again later")


class UnreachableBackend(BaseEmailBackend):
    """Nothing listens on the mail port."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


@contextmanager
def _email_backend_warning_silenced():
    # Django 6.1 warns on every read or write of EMAIL_BACKEND from outside
    # Django, and override_settings does both. The runs that use the setting
    # do so on purpose (see tests/settings.py); the package itself never
    # touches it, and any such use outside this helper still fails the run.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="The EMAIL_BACKEND setting is deprecated",
            category=PendingDeprecationWarning,
        )
        yield


class _QuietOverride:
    def __init__(self, override):
        self.override = override

    def disable(self):
        with _email_backend_warning_silenced():
            self.override.disable()


def use_mail_backend(settings, backend):
    """Send through ``backend`` for the rest of the test, whichever mail settings the run uses.

    ``settings`` is pytest-django's fixture: the change ends with the test.
    """
    if hasattr(django_settings, "MAILERS"):
        settings.MAILERS = {"default": {"BACKEND": backend}}
        return
    override = override_settings(EMAIL_BACKEND=backend)
    with _email_backend_warning_silenced():
        override.enable()
    # Restored with the fixture's own overrides, in order, but quietly.
    settings._to_restore.append(_QuietOverride(override))


class BrokenBackend(BaseEmailBackend):
    """A backend with a bug: it reads each message's body (link included), then fails.

    As an HTTP API backend does, the text it is about to post sits in a local
    of its frame when the error comes. Not a mail error, so the flows let it propagate
    into a 500 and its error report. ``seen`` keeps what it was handed.
    """

    seen: list = []

    def send_messages(self, email_messages):
        type(self).seen.extend(email_messages)
        for message in email_messages:
            payload = {"to": message.to, "text": message.body}  # noqa: F841 (in the frame)
            raise RuntimeError("the mail backend has a bug")


BROKEN = "tests.failing_mail.BrokenBackend"
