from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .addresses import same_address


class VerifiedEmailMixin(models.Model):
    """Abstract mixin for a custom user model.

    Works with whatever field ``EMAIL_FIELD`` names. An address set by any path
    other than this app (admin, shell, ``save()``) clears the verified flag, so
    ``is_email_verified`` is only ever true for an address that proved itself.
    """

    is_email_verified = models.BooleanField(_("email verified"), default=False)
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, *args, **kwargs):
        # Arguments passed through untouched: Django 6.1 added fetch_mode.
        instance = super().from_db(*args, **kwargs)
        instance._remember_saved_email()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_saved_email()

    def _remember_saved_email(self):
        field = self.get_email_field_name()
        # A deferred email field is not loaded; leave nothing to compare with.
        if field in self.__dict__:
            self._verified_email_saved_address = self.__dict__[field]

    def mark_email_verified(self, when=None):
        """Mark the current address verified. The flows call this; hosts may too."""
        self.is_email_verified = True
        self.email_verified_at = when or timezone.now()
        self._verified_email_trusted = True

    def save(self, *args, **kwargs):
        field = self.get_email_field_name()
        saved = getattr(self, "_verified_email_saved_address", None)
        current = getattr(self, field, None)
        trusted = getattr(self, "_verified_email_trusted", False)
        if (
            not self._state.adding
            and not trusted
            and hasattr(self, "_verified_email_saved_address")
            and not same_address(saved, current)
        ):
            self.is_email_verified = False
            self.email_verified_at = None
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and field in update_fields:
                kwargs["update_fields"] = {
                    *update_fields,
                    "is_email_verified",
                    "email_verified_at",
                }
        super().save(*args, **kwargs)
        self._verified_email_trusted = False
        self._remember_saved_email()


class EmailChangeQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=EmailChange.OPEN_STATUSES)


class EmailChange(models.Model):
    """One request to change a user's address, from request to its end."""

    class Status(models.TextChoices):
        AWAITING_OLD = "awaiting_old", _("awaiting confirmation from the old address")
        AWAITING_NEW = "awaiting_new", _("awaiting confirmation from the new address")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        SUPERSEDED = "superseded", _("superseded")

    OPEN_STATUSES = (Status.AWAITING_OLD, Status.AWAITING_NEW)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="email_changes",
        verbose_name=_("user"),
    )
    old_email = models.EmailField(_("old address"), max_length=254, blank=True)
    new_email = models.EmailField(_("new address"), max_length=254)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    # Bumped whenever a link is (re)sent: only the newest link of a step works.
    link_generation = models.PositiveIntegerField(_("link generation"), default=0)
    link_sent_at = models.DateTimeField(_("last link sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    old_confirmed_at = models.DateTimeField(_("old address confirmed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = EmailChangeQuerySet.as_manager()

    class Meta:
        verbose_name = _("email change")
        verbose_name_plural = _("email changes")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["awaiting_old", "awaiting_new"]),
                name="verified_email_one_open_change_per_user",
            ),
        ]

    def __str__(self):
        return f"{self.old_email or '-'} → {self.new_email} ({self.status})"

    @property
    def is_open(self):
        return self.status in self.OPEN_STATUSES

    @property
    def expires_at(self):
        """When the newest link of the current step stops working (None if closed)."""
        from .conf import app_settings

        if not self.is_open or self.link_sent_at is None:
            return None
        return self.link_sent_at + timezone.timedelta(seconds=app_settings.LINK_MAX_AGE)
