"""The ``user`` store: the state lives in the user's own row (``VerifiedEmailMixin``).

The fastest store: reading the state reads the user, and writing it is the
same UPDATE that writes the address or the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from .. import addresses, models
from ..exceptions import EmailTakenMeanwhile
from ..models import VerifiedUser
from .base import Holder

#: The user fields the state lives in, besides the address.
STATE_FIELDS = ["is_email_verified", "email_verified_at", "email_security_counter"]


def address_fields(field: str) -> list[str]:
    """The user fields that change whenever an address is given or taken off."""
    return [field, *STATE_FIELDS]


def can_release_addresses() -> bool:
    """Return whether an unproved address can be taken off the account that typed it.

    Only when the email field may be blank and is not the login name:
    blanking a username, or a required field, would break the account.
    """
    model = get_user_model()
    name = model.get_email_field_name()
    field = model._meta.get_field(name)
    return name != model.USERNAME_FIELD and bool(getattr(field, "blank", False))


def blank_address() -> str | None:
    """The value a released address becomes: None where the column is nullable."""
    model = get_user_model()
    field = model._meta.get_field(model.get_email_field_name())
    return None if getattr(field, "null", False) else ""


class UserStore:
    """The verified state in the user's row: ``is_email_verified`` and its siblings."""

    name = "user"
    epoch_in_session_hash = True

    def address(self, user: VerifiedUser) -> str:
        return addresses.of_user(user)

    def is_verified(self, user: VerifiedUser) -> bool:
        return bool(user.is_email_verified)

    def verified_at(self, user: VerifiedUser) -> datetime | None:
        return user.email_verified_at

    def security_counter(self, user: VerifiedUser) -> int:
        return user.email_security_counter or 0

    def lock_user(self, pk: Any) -> VerifiedUser | None:
        return models.lock_user(pk)

    def mark_verified(self, user: VerifiedUser, when: datetime) -> bool:
        user.mark_email_verified(when)
        user.save(update_fields=["is_email_verified", "email_verified_at"])
        return True

    def set_verified_address(
        self, user: VerifiedUser, address: str, when: datetime, *, end_sessions: bool
    ) -> bool:
        # The mixin's save() would clear the flag of an address set by any
        # other path: mark_email_verified() tells it this one proved itself.
        field = user.get_email_field_name()
        setattr(user, field, address)
        user.mark_email_verified(when)
        user.move_email_security_counter(end_sessions=end_sessions)
        try:
            user.save(update_fields=address_fields(field))
        except IntegrityError:
            return False
        return True

    def move_security_counter(
        self, user: VerifiedUser, *, end_sessions: bool, with_fields: tuple[str, ...] = ()
    ) -> None:
        user.move_email_security_counter(end_sessions=end_sessions)
        user.save(update_fields=[*with_fields, "email_security_counter"])

    def holders(self, user: VerifiedUser, address: str) -> list[Holder]:
        rows = (
            addresses.users_with_address(address, using=models.write_database(user))
            .exclude(pk=user.pk)
            .values_list("pk", "is_email_verified")
        )
        return [Holder(pk, verified) for pk, verified in rows]

    def can_release(self) -> bool:
        return can_release_addresses()

    def release(self, address: str, pks: list[Any]) -> list[tuple[VerifiedUser, str]]:
        field = get_user_model().get_email_field_name()
        blank = blank_address()
        holders = (
            addresses.users_with_address(address)
            .filter(pk__in=pks, is_email_verified=False)
            .select_for_update()
            .order_by("pk")
        )
        released = []
        for holder in holders:
            had = addresses.of_user(holder)
            setattr(holder, field, blank)
            holder.is_email_verified = False
            holder.email_verified_at = None
            holder.move_email_security_counter(end_sessions=False)
            # The flags are set here; the mixin's save must not set them again.
            holder._verified_email_trusted = True
            try:
                with transaction.atomic(using=holder._state.db):
                    holder.save(update_fields=address_fields(field))
            except IntegrityError:
                raise EmailTakenMeanwhile from None
            released.append((holder, had))
        return released

    def lock_unproven(self, address: str, pks: list[Any]) -> list[VerifiedUser]:
        return list(
            addresses.users_with_address(address)
            .filter(pk__in=pks, is_email_verified=False)
            .select_for_update()
            .order_by("pk")
        )

    def never_verified(self, using: str | None = None) -> QuerySet[Any]:
        # email_verified_at too: a user whose flag was cleared since (an
        # address set in the admin) has it cleared as well, but one verified
        # through the app has both set, and neither is ever overwritten here.
        return (
            get_user_model()
            ._default_manager.using(using)
            .filter(is_email_verified=False, email_verified_at__isnull=True)
        )

    def verified_holders(self, found: list[str], using: str | None = None) -> dict[str, set[Any]]:
        field = get_user_model().get_email_field_name()
        rows = (
            addresses.users_with_addresses(found, using=using)
            .filter(is_email_verified=True)
            .values_list("pk", field)
        )
        held: dict[str, set[Any]] = {}
        for pk, address in rows:
            held.setdefault(addresses.comparable(address), set()).add(pk)
        return held

    def trust(self, rows: list[tuple[Any, str]], when: datetime, using: str | None = None) -> int:
        # update(): the address does not change, so the mixin's save logic
        # has nothing to clear, and no signal is sent (nothing was proved).
        return (
            self.never_verified(using)
            .filter(pk__in=[pk for pk, _ in rows])
            .update(is_email_verified=True, email_verified_at=when)
        )

    def drifted(self, using: str | None = None) -> Iterator[tuple[Any, str]]:
        # The flag lives beside the address it is about: save() and the
        # queryset mixin clear it with the address, and nothing records
        # which address it was set for, so there is nothing to compare.
        return iter(())

    def unverify(
        self, pks: list[Any], using: str | None = None, *, only_drifted: bool = False
    ) -> int:
        if only_drifted:
            return 0  # the flag cannot drift (``drifted``)
        return (
            get_user_model()
            ._default_manager.using(using)
            .filter(pk__in=pks)
            .update(is_email_verified=False, email_verified_at=None)
        )
