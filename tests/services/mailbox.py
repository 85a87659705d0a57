"""A mail backend that the worker processes and the test process share: a folder.

Each message is one file, written whole and then renamed into place, so a
reader never sees half a message.
"""

import email
import email.policy
import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend

from tests.helpers import link_path


def folder():
    return Path(os.environ["VE_MAILBOX_DIR"])


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            name = f"{time.time_ns()}-{uuid.uuid4().hex}"
            partial = folder() / f".{name}.tmp"
            partial.write_bytes(message.message().as_bytes())
            os.replace(partial, folder() / f"{name}.eml")
        return len(email_messages)


class Received:
    def __init__(self, raw):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.to = [address.strip() for address in parsed["To"].split(",")]
        self.subject = str(parsed["Subject"])
        self.body = parsed.get_body(("plain",)).get_content()

    def link_path(self):
        return link_path(self)


def received():
    """Every message sent so far, oldest first."""
    return [Received(path.read_bytes()) for path in sorted(folder().glob("*.eml"))]


def wait_for(count, timeout=30):
    """The messages once there are ``count`` of them; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        messages = received()
        if len(messages) >= count:
            assert len(messages) == count, [message.to for message in messages]
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(messages)} of {count} emails after {timeout} s: "
                f"{[message.to for message in messages]}"
            )
        time.sleep(0.05)
