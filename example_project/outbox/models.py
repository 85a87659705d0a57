from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
