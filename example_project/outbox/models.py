import re

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# How django_verified_email's emails mark their one-time code (email/_code.html).
CODE_RE = re.compile(r"data-verified-email-code>\s*([^<]{1,32}?)\s*<")


class Message(models.Model):
    """One email the site sent, kept so the outbox page can show it."""

    sent_at = models.DateTimeField(_("sent at"), default=timezone.now, db_index=True)
    from_email = models.CharField(_("from"), max_length=320)
    to = models.TextField(_("to"), help_text=_("Recipients, one per line."))
    subject = models.CharField(_("subject"), max_length=998)
    body = models.TextField(_("text body"))
    html_body = models.TextField(_("HTML body"), blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self):
        return self.subject

    @property
    def recipients(self):
        return self.to.splitlines()

    @property
    def code(self):
        """The one-time code the message carries beside its link, or ""."""
        match = CODE_RE.search(self.html_body)
        return match[1] if match else ""
