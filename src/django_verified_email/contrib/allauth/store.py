"""The ``allauth`` store: allauth's ``EmailAddress`` table is the record of the address.

With the bridge installed, ``get_store()`` answers with this store whatever
the user model (``apps.ready`` registers it with ``stores.use_store``):

- the address is the user's email field, which allauth keeps equal to the
  user's primary ``EmailAddress``; it counts as verified when that row is
  the user's one primary, is ``verified`` and agrees with the user's field.
  An address allauth verified is therefore verified here too (a change from
  it is dual-link) with no data migration. Rows that disagree (no row, no
  primary, two primaries, a primary for another address, an unverified
  primary) read as unverified, never as an error;
  ``verified_email_audit_addresses --fix`` puts them right (``drifted``);
- a new verified address (a completed change, a revert) leaves exactly one
  row for the user: that address, primary and verified. The old rows go, with
  allauth's pending confirmations for them, so the old address no longer
  signs in or gets allauth's password-reset links;
- allauth keeps no security counter, session epoch or verification date:
  they stay in the store the user model alone would get (``base``: the
  mixin's fields, or ``VerifiedEmailProfile``), which is written in step, in
  the same transaction.

allauth stores addresses lower-cased; lookups match every spelling of the
address (``addresses.spellings``) with ``IN``, which the index allauth puts
on ``EmailAddress.email`` serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from ... import addresses
from ...exceptions import EmailTakenMeanwhile
from ...models import VerifiedUser
from ...stores.base import AddressStore, Holder


class _Refused(Exception):
    """The base store refused the address: undo the savepoint."""


def rows_for(address: str, using: str | None = None) -> QuerySet[EmailAddress]:
    """The ``EmailAddress`` rows of ``address`` in any spelling, through allauth's index."""
    return EmailAddress.objects.using(using).filter(email__in=addresses.spellings(address))


def make_primary(
    pk: Any, address: str, *, verified: bool | None, only: bool, using: str | None = None
) -> bool:
    """Make ``address`` the one primary row of user ``pk``; return whether it is verified.

    ``verified`` None keeps the state the row has (a new row starts
    unverified). With ``only`` the user's other rows are deleted, else they
    stay as secondary rows. Call under the user's lock.
    """
    mine = EmailAddress.objects.using(using).filter(user_id=pk)
    spelled = addresses.spellings(address)
    # The verified spelling wins when a host stored the address twice, in two cases.
    keep = mine.filter(email__in=spelled).order_by("-verified", "pk").first()
    others = mine.exclude(pk=keep.pk) if keep is not None else mine
    if only:
        others.delete()
    else:
        # Before the new primary is set: allauth allows one primary per user.
        others.filter(primary=True).update(primary=False)
    if keep is None:
        state = bool(verified)
        EmailAddress.objects.using(using).create(
            user_id=pk, email=address.lower(), primary=True, verified=state
        )
        return state
    state = keep.verified if verified is None else verified
    if not keep.primary or keep.verified != state:
        mine.filter(pk=keep.pk).update(primary=True, verified=state)
    return state


class AllauthStore:
    """The address in allauth's ``EmailAddress`` rows; the counter in ``base``."""

    name = "allauth"

    def __init__(self, base: AddressStore) -> None:
        self.base = base
        self.epoch_in_session_hash = base.epoch_in_session_hash

    def address(self, user: VerifiedUser) -> str:
        return addresses.of_user(user)

    def is_verified(self, user: VerifiedUser) -> bool:
        current = addresses.of_user(user)
        if not current or user.pk is None:
            return False
        primaries = list(
            EmailAddress.objects.filter(user_id=user.pk, primary=True).values_list(
                "email", "verified"
            )[:2]
        )
        if len(primaries) != 1:
            return False  # no primary, or two (a database without partial unique indexes)
        email, verified = primaries[0]
        return verified and addresses.same_address(email, current)

    def verified_at(self, user: VerifiedUser) -> datetime | None:
        # allauth keeps no date: the one this app recorded, if it did.
        return self.base.verified_at(user) if self.is_verified(user) else None

    def security_counter(self, user: VerifiedUser) -> int:
        return self.base.security_counter(user)

    def lock_user(self, pk: Any) -> VerifiedUser | None:
        return self.base.lock_user(pk)

    def mark_verified(self, user: VerifiedUser, when: datetime) -> bool:
        current = addresses.of_user(user)
        if not current or any(holder.verified for holder in self.holders(user, current)):
            return False
        try:
            with transaction.atomic():
                if not self.base.mark_verified(user, when):
                    raise _Refused
                make_primary(user.pk, current, verified=True, only=False)
        except (IntegrityError, _Refused):
            return False
        return True

    def set_verified_address(
        self, user: VerifiedUser, address: str, when: datetime, *, end_sessions: bool
    ) -> bool:
        # No savepoint, as with the other stores: on False the caller raises
        # and its transaction is rolled back.
        if not self.base.set_verified_address(user, address, when, end_sessions=end_sessions):
            return False
        try:
            make_primary(user.pk, address, verified=True, only=True)
        except IntegrityError:
            return False  # another account's verified row (allauth's UNIQUE_EMAIL)
        return True

    def move_security_counter(
        self, user: VerifiedUser, *, end_sessions: bool, with_fields: tuple[str, ...] = ()
    ) -> None:
        self.base.move_security_counter(user, end_sessions=end_sessions, with_fields=with_fields)

    def holders(self, user: VerifiedUser, address: str) -> list[Holder]:
        found = {holder.pk: holder.verified for holder in self.base.holders(user, address)}
        # Any row of another account, a secondary one too: a verified one
        # takes the address, an unverified one is released like a typed address.
        rows = rows_for(address).exclude(user_id=user.pk).values_list("user_id", "verified")
        for pk, verified in rows:
            found[pk] = found.get(pk, False) or verified
        return [Holder(pk, verified) for pk, verified in found.items()]

    def can_release(self) -> bool:
        return self.base.can_release()

    def release(self, address: str, pks: list[Any]) -> list[tuple[VerifiedUser, str]]:
        # Locked in primary-key order first, as the base store would.
        for pk in sorted(pks):
            self.base.lock_user(pk)
        unproved = rows_for(address).filter(user_id__in=pks, verified=False)
        proved = set(
            rows_for(address)
            .filter(user_id__in=pks, verified=True)
            .values_list("user_id", flat=True)
        )
        open_pks = [pk for pk in pks if pk not in proved]  # proved it meanwhile
        released = self.base.release(address, open_pks)
        done = {holder.pk for holder, _ in released}
        had = dict(unproved.exclude(user_id__in=done).values_list("user_id", "email"))
        try:
            with transaction.atomic():
                unproved.delete()
        except IntegrityError:
            raise EmailTakenMeanwhile from None
        model = get_user_model()
        for holder in model._default_manager.filter(pk__in=had).order_by("pk"):
            released.append((holder, had[holder.pk]))
        return released

    def lock_unproven(self, address: str, pks: list[Any]) -> list[VerifiedUser]:
        locked = self.base.lock_unproven(address, pks)
        # Read after the locks: one that proved the address in allauth's
        # table meanwhile keeps it.
        proved = set(
            rows_for(address)
            .filter(user_id__in=[user.pk for user in locked], verified=True)
            .values_list("user_id", flat=True)
        )
        return [user for user in locked if user.pk not in proved]

    # For the adoption and audit commands.

    def never_verified(self, using: str | None = None) -> QuerySet[Any]:
        proved = EmailAddress.objects.using(using).filter(
            user_id=OuterRef("pk"), primary=True, verified=True
        )
        return self.base.never_verified(using).filter(~Exists(proved))

    def verified_holders(self, found: list[str], using: str | None = None) -> dict[str, set[Any]]:
        held = self.base.verified_holders(found, using)
        # A verified row of any account, a secondary one too, holds the address.
        every = [spelling for address in found for spelling in addresses.spellings(address)]
        rows = EmailAddress.objects.using(using).filter(email__in=every, verified=True)
        for email, pk in rows.values_list("email", "user_id"):
            held.setdefault(addresses.comparable(email), set()).add(pk)
        return held

    def trust(self, rows: list[tuple[Any, str]], when: datetime, using: str | None = None) -> int:
        self.base.trust(rows, when, using)
        trusted = 0
        for pk, address in rows:
            try:
                with transaction.atomic(using=using):
                    make_primary(pk, address, verified=True, only=False, using=using)
            except IntegrityError:
                continue  # another account's verified row holds it
            trusted += 1
        return trusted

    def drifted(self, using: str | None = None) -> Iterator[tuple[Any, str]]:
        """Also the users whose rows disagree with their address (``--fix`` puts them right)."""
        seen = set()
        for pk, address in self.base.drifted(using):
            seen.add(pk)
            yield pk, address
        field = get_user_model().get_email_field_name()
        primaries = EmailAddress.objects.using(using).filter(user_id=OuterRef("pk"), primary=True)
        agreeing = primaries.filter(email__iexact=OuterRef(field))
        disagreeing = primaries.exclude(email__iexact=OuterRef(field))
        users = (
            get_user_model()
            ._default_manager.using(using)
            .exclude(Q(**{field: ""}) | Q(**{f"{field}__isnull": True}))
            .filter(~Exists(agreeing) | Exists(disagreeing))
            .order_by("pk")
            .values_list("pk", field)
        )
        for pk, address in users.iterator(chunk_size=2000):
            if pk not in seen:
                yield pk, address

    def unverify(
        self, pks: list[Any], using: str | None = None, *, only_drifted: bool = False
    ) -> int:
        """Put the users' rows right: one primary, their address; verified only if it was."""
        unproved = []
        users = get_user_model()._default_manager.using(using).filter(pk__in=pks)
        for user in users.order_by("pk"):
            address = addresses.of_user(user)
            if not address or not make_primary(
                user.pk, address, verified=None, only=False, using=using
            ):
                unproved.append(user.pk)
        # The base store follows: its state of a now unverified address is cleared.
        self.base.unverify(unproved, using)
        self.base.unverify([pk for pk in pks if pk not in unproved], using, only_drifted=True)
        return len(pks)
