"""The password hashes a revert may be proved with (``PasswordHash``).

A revert is immediate with a password the account had at any time from
``RECOVERY_DELAY`` seconds before the change was requested until it
completed, or with the current one. Whoever took the account may have
changed the password before asking for the change: the owner still knows an
earlier one, and this keeps its hash for as long as a revert may need it.

The hashes are written through public hooks only: the user model's
``pre_save`` compares the stored hash with the one being saved (a real change
or a hash upgrade at login: either way the replaced hash was the account's),
and ``remember`` stores the hash of the moment a change is requested.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.signals import pre_save
from django.utils import timezone

from .conf import DEFAULTS, app_settings
from .models import EmailChange, PasswordHash, write_database


def delay() -> timedelta:
    """``RECOVERY_DELAY``: how far back a password counts, and how long a revert without one waits.

    With the recovery path off (None) it is its default all the same.
    """
    seconds = app_settings.RECOVERY_DELAY
    if seconds is None:
        seconds = DEFAULTS["RECOVERY_DELAY"]
    return timedelta(seconds=seconds)


def remember(user: Any, now: datetime) -> None:
    """Store the user's password hash as it is at ``now`` (a change is being requested)."""
    if user.password:
        PasswordHash.objects.create(user_id=user.pk, password=user.password, current_until=now)


def _replaced(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs):
    """``pre_save`` of the user model: keep the hash a save replaces."""
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = (
        sender._default_manager.using(kwargs.get("using"))
        .filter(pk=instance.pk)
        .values_list("password", flat=True)
        .first()
    )
    if not stored or stored == instance.password:
        return
    now = timezone.now()
    # On the database the user is saved to: a replica may lack the last hash.
    hashes = PasswordHash.objects.using(kwargs.get("using"))
    since = (
        hashes.filter(user_id=instance.pk)
        .exclude(password=stored)
        .order_by("-current_until")
        .values_list("current_until", flat=True)
        .first()
    )
    hashes.create(user_id=instance.pk, password=stored, current_from=since, current_until=now)


def connect() -> None:
    """Listen to the user model's saves (``AppConfig.ready``)."""
    pre_save.connect(_replaced, sender=get_user_model(), dispatch_uid=__name__)


def proves_ownership(change: EmailChange, raw: object) -> bool:
    """Return whether ``raw`` is the current password or one the account had in the window.

    The window runs from ``RECOVERY_DELAY`` seconds before ``change`` was
    requested until it completed (``closed_at``). Checked with Django's
    hashers, each hash once.
    """
    if not isinstance(raw, str) or not raw:
        return False
    user = change.user
    if user.check_password(raw):
        return True
    start = change.created_at - delay()
    end = change.closed_at or timezone.now()
    hashes = (
        PasswordHash.objects.using(write_database(user))
        .filter(user_id=user.pk, current_until__gte=start)
        .filter(Q(current_from__isnull=True) | Q(current_from__lte=end))
        .values_list("password", flat=True)
        .distinct()
    )
    return any(check_password(raw, encoded) for encoded in hashes)


def purgeable(now: datetime) -> QuerySet[PasswordHash]:
    """The hashes no revert can need any more (``verified_email_purge``).

    A future request needs those of the last ``RECOVERY_DELAY`` seconds; an
    older one only while a change it falls in the window of is open, or
    completed and still revertible (``REVERT_MAX_AGE``).
    """
    window = delay()
    needed_by = EmailChange.objects.filter(user_id=OuterRef("user_id")).filter(
        Q(status__in=EmailChange.PENDING_STATUSES)
        | Q(
            status=EmailChange.Status.COMPLETED,
            reverted_at__isnull=True,
            closed_at__gte=now - timedelta(seconds=app_settings.REVERT_MAX_AGE),
        ),
        created_at__lte=ExpressionWrapper(
            OuterRef("current_until") + window, output_field=DateTimeField()
        ),
    )
    return PasswordHash.objects.filter(current_until__lt=now - window).exclude(Exists(needed_by))
