"""An email backend that keeps every message in the database for the outbox page.

Nobody needs an SMTP server to try the site: the messages, links included,
are read at /outbox/. The database (not memory) holds them so they survive
the dev server's reloads.
"""

import sys

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

from .models import Message


def html_alternative(message):
    for content, mimetype in getattr(message, "alternatives", None) or []:
        if mimetype == "text/html":
            return content
    return ""


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            stored = Message.objects.create(
                from_email=message.from_email or "",
                to="\n".join(recipients),
                subject=message.subject,
                body=message.body,
                html_body=html_alternative(message),
            )
            if getattr(settings, "OUTBOX_PRINT", False):
                self._print(stored)
            sent += 1
        return sent

    def _print(self, stored):
        rule = "-" * 72
        sys.stdout.write(
            f"{rule}\nEmail to {', '.join(stored.recipients)}: {stored.subject}\n\n"
            f"{stored.body}\n{rule}\n"
        )
        sys.stdout.flush()
