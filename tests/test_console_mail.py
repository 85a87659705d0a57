"""A printed message shows each link whole (the console backend, a mail log)."""

import email
import email.policy
import io

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.utils import translation

from django_verified_email import emails
from django_verified_email.rendering import MAX_LINE_BYTES, TemplatedEmail
from tests.helpers import link_in


def printed(message):
    stream = io.StringIO()
    ConsoleBackend(stream=stream).send_messages([message])
    output, separator, rest = stream.getvalue().rpartition("\n" + "-" * 79 + "\n")
    assert separator and not rest
    return output


def parsed(output):
    return email.message_from_bytes(output.encode(), policy=email.policy.default)


def test_the_console_prints_a_verification_link_whole_on_one_line(make_user):
    user = make_user(verified=False)
    message = emails.build(emails.VERIFY, user_id=user.pk, base_url="http://127.0.0.1:8000")
    link = link_in(message)

    output = printed(message)

    lines = output.splitlines()
    assert link in lines  # the text part: the link alone on its line
    assert sum(link in line for line in lines) == 3  # and the HTML part's two
    assert "=3D" not in output  # no quoted-printable: href="… as it is


def test_a_message_in_another_script_is_printed_as_it_is(make_user):
    user = make_user(verified=False)
    with translation.override("ne"):
        message = emails.build(emails.VERIFY, user_id=user.pk, base_url="https://wallet.example")
    link = link_in(message)

    output = printed(message)

    assert link in output.splitlines()
    text_part = next(parsed(output).iter_parts())
    assert text_part["Content-Transfer-Encoding"] == "8bit"
    # (Django 6 ends a body with a newline; 5.2 sends it as it is.)
    assert text_part.get_content().rstrip("\n") == message.body.rstrip("\n")
    assert message.body.splitlines()[0] in output  # the Nepali text, readable


def test_a_line_longer_than_email_allows_is_still_encoded():
    long_line = "x" * (MAX_LINE_BYTES + 1)
    message = TemplatedEmail(template_name="unused")
    EmailMultiAlternatives.__init__(
        message, "Subject", f"Short line.\n{long_line}\n", "a@example.com", ["b@example.com"]
    )

    output = printed(message)

    assert all(len(line.encode()) <= MAX_LINE_BYTES for line in output.splitlines())
    assert parsed(output).get_content() == f"Short line.\n{long_line}\n"
