"""The ``profile`` store: the state in a row of the app's own, for any user model.

For a user model without ``VerifiedEmailMixin`` (Django's ``auth.User``):
``VerifiedEmailProfile`` holds the address the user proved (compared form,
unique), when, and the security counter. The user is verified while that
address is the user's address, so an address written by any path the app
does not see (``update()``, raw SQL) reads as unverified at once; the audit
command (``--fix``) clears such rows so they stop holding the address too.
A ``save()`` of a new address (admin, shell) clears the row at once
(``address_saved``).

Rows are created on first use, under the user's row lock, or for every
user at adoption by ``verified_email_sync_profiles``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, ProtectedError, QuerySet

from .. import addresses, models
from ..conf import app_settings
from ..exceptions import EmailTakenMeanwhile
from ..indexes import email_index
from ..models import PROFILE, VerifiedEmailProfile, VerifiedUser
from .base import Holder, moved
from .user import blank_address, can_release_addresses

#: Set on a user instance whose address the app itself is saving (trusted).
TRUSTED = "_verified_email_trusted"
#: The address a user instance was loaded or last saved with.
SAVED = "_verified_email_saved_address"


def profile_of(user: VerifiedUser) -> VerifiedEmailProfile | None:
    """Return the user's profile row as loaded (``models.users_with_state``), or None."""
    try:
        return getattr(user, PROFILE)
    except ObjectDoesNotExist:
        return None


def profile_for_write(user: VerifiedUser) -> VerifiedEmailProfile:
    """Return the user's profile row, created if missing (call under the user's lock)."""
    row = profile_of(user)
    if row is None:
        row, _ = VerifiedEmailProfile.objects.get_or_create(user_id=user.pk)
        setattr(user, PROFILE, row)
    return row


def key(address: str) -> str | None:
    """The form a verified address is kept in: compared form, None for no address."""
    return addresses.comparable(address) if address else None


class ProfileStore:
    """The verified state in ``VerifiedEmailProfile``, one row per user."""

    name = "profile"
    epoch_in_session_hash = False

    def address(self, user: VerifiedUser) -> str:
        return addresses.of_user(user)

    def is_verified(self, user: VerifiedUser) -> bool:
        row = profile_of(user)
        current = key(addresses.of_user(user))
        return row is not None and current is not None and row.verified_address == current

    def verified_at(self, user: VerifiedUser) -> datetime | None:
        row = profile_of(user)
        return row.verified_at if row is not None and self.is_verified(user) else None

    def security_counter(self, user: VerifiedUser) -> int:
        row = profile_of(user)
        return row.security_counter if row is not None else 0

    def lock_user(self, pk: Any) -> VerifiedUser | None:
        user = models.lock_user(pk)
        if user is not None:
            profile_for_write(user)
        return user

    def mark_verified(self, user: VerifiedUser, when: datetime) -> bool:
        current = key(addresses.of_user(user))
        if current is None:
            return False
        # One proved address per row: a row of another account that holds it
        # (two auth.User rows may share an address) keeps it.
        profiles = VerifiedEmailProfile.objects.using(models.write_database(user))
        taken = profiles.filter(verified_address=current).exclude(user_id=user.pk)
        if taken.exists():
            return False
        row = profile_for_write(user)
        before = row.verified_address, row.verified_at
        row.verified_address, row.verified_at = current, when
        try:
            # The check above locks nothing of the other account, which may
            # prove the address meanwhile: the unique index then refuses
            # this row. No savepoint, as in set_verified_address: the caller
            # raises at once and its transaction is rolled back.
            row.save(update_fields=["verified_address", "verified_at"])
        except IntegrityError:
            row.verified_address, row.verified_at = before
            return False
        return True

    def set_verified_address(
        self, user: VerifiedUser, address: str, when: datetime, *, end_sessions: bool
    ) -> bool:
        field = user.get_email_field_name()
        setattr(user, field, address)
        setattr(user, TRUSTED, True)
        row = profile_for_write(user)
        row.verified_address, row.verified_at = key(address), when
        row.security_counter = moved(row.security_counter, end_sessions=end_sessions)
        try:
            user.save(update_fields=[field])
            row.save(update_fields=["verified_address", "verified_at", "security_counter"])
        except IntegrityError:
            return False
        return True

    def move_security_counter(
        self, user: VerifiedUser, *, end_sessions: bool, with_fields: tuple[str, ...] = ()
    ) -> None:
        if with_fields:
            setattr(user, TRUSTED, True)
            user.save(update_fields=list(with_fields))
        row = profile_for_write(user)
        row.security_counter = moved(row.security_counter, end_sessions=end_sessions)
        row.save(update_fields=["security_counter"])

    def holders(self, user: VerifiedUser, address: str) -> list[Holder]:
        model = get_user_model()
        field = model.get_email_field_name()
        current = key(address)
        using = models.write_database(user)
        # Only users the host's manager shows (a tenant's, not soft-deleted).
        shown = model._default_manager.filter(pk=OuterRef("user_id"))
        proved = (
            VerifiedEmailProfile.objects.using(using)
            .filter(Exists(shown), verified_address=current)
            .exclude(user_id=user.pk)
            .order_by()
            .values_list("user_id", f"user__{field}", "verified_address")
        )
        # Accounts that hold the address in the user table are looked up too
        # where an index can answer (a host's model with the quickstart's
        # constraint), in the same statement: those that only typed it are
        # released. On auth.User, whose address column has no such index,
        # they keep it, unverified: they never block.
        if email_index(model) is not None:
            holding = (
                addresses.users_with_address(address, using=using)
                .exclude(pk=user.pk)
                .order_by()
                .values_list("pk", field, f"{PROFILE}__verified_address")
            )
            proved = proved.union(holding)
        found: dict[Any, bool] = {}
        for pk, own, verified in proved:
            # Proved its own address (which the database may fold like this
            # one), or this one and holds it still (an address written past
            # the app since: the audit clears it).
            found[pk] = found.get(pk, False) or (
                verified is not None and verified in (key(own or ""), current)
            )
        return [Holder(pk, verified) for pk, verified in found.items()]

    def can_release(self) -> bool:
        return can_release_addresses()

    def release(self, address: str, pks: list[Any]) -> list[tuple[VerifiedUser, str]]:
        field = get_user_model().get_email_field_name()
        blank = blank_address()
        holders = (
            addresses.users_with_address(address)
            .filter(pk__in=pks)
            .select_for_update()
            .order_by("pk")
        )
        released = []
        for holder in holders:
            if self.is_verified(holder):
                continue  # proved it meanwhile: claim_address checked before the lock
            had = addresses.of_user(holder)
            setattr(holder, field, blank)
            setattr(holder, TRUSTED, True)
            try:
                with transaction.atomic(using=holder._state.db):
                    holder.save(update_fields=[field])
                    self.move_security_counter(holder, end_sessions=False)
            except IntegrityError:
                raise EmailTakenMeanwhile from None
            released.append((holder, had))
        return released

    def lock_unproven(self, address: str, pks: list[Any]) -> list[VerifiedUser]:
        holders = (
            addresses.users_with_address(address)
            .filter(pk__in=pks)
            .select_for_update()
            .order_by("pk")
        )
        return [holder for holder in holders if not self.is_verified(holder)]

    def never_verified(self, using: str | None = None) -> QuerySet[Any]:
        # A row with a date was verified once: the app cleared it since, and
        # trusting it again would undo that.
        verified_once = VerifiedEmailProfile.objects.filter(
            user_id=OuterRef("pk"), verified_at__isnull=False
        )
        return get_user_model()._default_manager.using(using).filter(~Exists(verified_once))

    def verified_holders(self, found: list[str], using: str | None = None) -> dict[str, set[Any]]:
        # Every row that holds the address, drifted ones too (proved, then
        # written past the app): the unique index would refuse another.
        rows = (
            VerifiedEmailProfile.objects.using(using)
            .filter(verified_address__in={key(address) for address in found})
            .values_list("verified_address", "user_id")
        )
        held: dict[str, set[Any]] = {}
        for verified, pk in rows:
            held.setdefault(verified, set()).add(pk)
        return held

    def trust(self, rows: list[tuple[Any, str]], when: datetime, using: str | None = None) -> int:
        profiles = VerifiedEmailProfile.objects.using(using)
        existing = set(
            profiles.filter(user_id__in=[pk for pk, _ in rows]).values_list("user_id", flat=True)
        )
        new = [
            VerifiedEmailProfile(user_id=pk, verified_address=key(address), verified_at=when)
            for pk, address in rows
            if pk not in existing
        ]
        profiles.bulk_create(new)
        updated = 0
        for pk, address in rows:
            if pk in existing:
                updated += profiles.filter(user_id=pk, verified_at__isnull=True).update(
                    verified_address=key(address), verified_at=when
                )
        return len(new) + updated

    def drifted(self, using: str | None = None) -> Iterator[tuple[Any, str]]:
        field = get_user_model().get_email_field_name()
        rows = (
            VerifiedEmailProfile.objects.using(using)
            .filter(verified_address__isnull=False)
            .order_by("pk")
            .values_list("user_id", "verified_address", f"user__{field}")
            .iterator(chunk_size=2000)
        )
        for pk, verified, address in rows:
            if verified != key(address or ""):
                yield pk, address or ""

    def unverify(
        self, pks: list[Any], using: str | None = None, *, only_drifted: bool = False
    ) -> int:
        # With ``only_drifted``, ``pks`` come from a scan that may have taken
        # minutes: a user may have proved the new address since. The users
        # are locked (first, as in every flow) and only the rows still
        # drifted are cleared.
        model = get_user_model()
        field = model.get_email_field_name()
        locked = model._default_manager.using(using).filter(pk__in=pks).order_by("pk")
        list(locked.select_for_update().values_list("pk", flat=True))
        rows = (
            VerifiedEmailProfile.objects.using(using)
            .filter(user_id__in=pks, verified_address__isnull=False)
            .values_list("user_id", "verified_address", f"user__{field}")
        )
        still = [
            pk
            for pk, verified, address in rows
            if not only_drifted or verified != key(address or "")
        ]
        return (
            VerifiedEmailProfile.objects.using(using)
            .filter(user_id__in=still)
            .update(verified_address=None, verified_at=None)
        )


def unverify(user: VerifiedUser, *, end_sessions: bool) -> None:
    """Clear the user's verified state and move its counter (an address written elsewhere)."""
    using = models.write_database(user)
    with transaction.atomic(using=using):
        # The user's row first, as every flow locks it, and the profile row
        # created under that lock: locking the profile alone, or creating it
        # unlocked, races a flow's first use of the row into the unique index.
        locked = ProfileStore().lock_user(user.pk)
        row = profile_for_write(locked if locked is not None else user)
        row.verified_address = row.verified_at = None
        row.security_counter = moved(row.security_counter, end_sessions=end_sessions)
        row.save(update_fields=["verified_address", "verified_at", "security_counter"])
    setattr(user, PROFILE, row)


# Receivers for the user model (connected by apps.ready when this store is in
# use): what the mixin's save() does, for a model the app cannot subclass.


def remember_address(sender: type, instance: Any, **kwargs: Any) -> None:
    """post_init, post_save: remember the address as loaded or saved."""
    field = sender.get_email_field_name()  # type: ignore[attr-defined]
    if field in instance.__dict__:
        instance.__dict__[SAVED] = instance.__dict__[field]


def address_saved(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """pre_save: a new address saved by any path but the app's own is not verified.

    Compares with the address the instance was loaded with, and with the
    database where that differs or is not known, so a save that leaves the
    address as it was costs nothing.
    """
    trusted = instance.__dict__.pop(TRUSTED, False)
    if raw or trusted or instance._state.adding:
        return
    field = sender.get_email_field_name()  # type: ignore[attr-defined]
    update_fields = kwargs.get("update_fields")
    if field not in instance.__dict__ or (update_fields is not None and field not in update_fields):
        return
    new = instance.__dict__[field] or ""
    saved = instance.__dict__.get(SAVED)
    if saved is not None and addresses.same_address(saved or "", new):
        return
    stored = (
        sender._base_manager.using(kwargs.get("using"))  # type: ignore[attr-defined]
        .filter(pk=instance.pk)
        .values_list(field, flat=True)
        .first()
    )
    if addresses.same_address(stored or "", new):
        return
    # A new address by any path: links sent to the old one die, and
    # sessions too where a completed change would end them.
    unverify(instance, end_sessions=app_settings.LOGOUT_OTHER_SESSIONS)


def deleted_alone(
    sender: type, instance: VerifiedEmailProfile, origin: Any = None, **kwargs: Any
) -> None:
    """pre_delete: refuse to delete a profile row by itself, not with its user.

    The row holds the security counter, which must never move back: a new
    row starts at 0, and every link and session a move of it had ended
    (a completed change's, a revert's) would work again.
    """
    # A cascade from anything else (the user, or a tenant that owns users)
    # takes the user with it.
    if not isinstance(origin, VerifiedEmailProfile) and not (
        isinstance(origin, QuerySet) and origin.model is VerifiedEmailProfile
    ):
        return
    raise ProtectedError(
        "A verified email state is deleted only with its user: it holds the security "
        "counter that keeps ended links and sessions ended.",
        {instance},
    )
