"""The address store interface (``AddressStore``) and what every store shares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db.models import QuerySet

from ..models import VerifiedEmailMixin, VerifiedUser


@dataclass(frozen=True)
class Holder:
    """Another account that holds an address, and whether it proved it."""

    pk: Any
    verified: bool


class AddressStore(Protocol):
    """The record of a user's address and its verified state.

    Implementations must:

    * give each user at most one *primary* address (``address``), the one
      mail goes to; a store that keeps several addresses per user answers
      with the primary and says ``verified`` of that one;
    * say ``is_verified`` only of an address that proved itself through
      this app (or was marked by ``mark_verified``), and stop saying it as
      soon as the address is written by any other path;
    * keep a ``security_counter`` that never moves back: links carry it in
      their fingerprint, and its session epoch (``session_epoch``) ends
      every session when it moves on a session step;
    * lock the user's row in ``lock_user`` before anything of the user is
      written, and have the state ready to write once it returns (creating
      what is missing under that lock): every flow locks the user first;
    * answer ``holders`` from an index, never by reading every user;
    * write in the caller's transaction, and return False (not raise) from
      ``set_verified_address`` and ``mark_verified`` when the database
      refuses the address.

    ``stores.testing.StoreContract`` checks an implementation against this.
    """

    #: A short name: "user", "profile".
    name: str
    #: Whether Django's session hash already changes with the session epoch
    #: (the mixin's ``get_session_auth_hash``); if not, the session carries
    #: it (``middleware.SessionEpochMiddleware``).
    epoch_in_session_hash: bool

    def address(self, user: VerifiedUser) -> str:
        """Return the user's (primary) address, "" if none."""
        ...

    def is_verified(self, user: VerifiedUser) -> bool:
        """Return whether the user's address proved itself."""
        ...

    def verified_at(self, user: VerifiedUser) -> datetime | None:
        """Return when the user's address was verified, None if it is not."""
        ...

    def security_counter(self, user: VerifiedUser) -> int:
        """Return the counter links and sessions are checked against."""
        ...

    def lock_user(self, pk: Any) -> VerifiedUser | None:
        """Lock the user row ``pk`` names (a value or a subquery); return it with its state."""
        ...

    def mark_verified(self, user: VerifiedUser, when: datetime) -> bool:
        """Mark the user's current address verified and save; False if refused."""
        ...

    def set_verified_address(
        self, user: VerifiedUser, address: str, when: datetime, *, end_sessions: bool
    ) -> bool:
        """Give the (locked) user ``address`` as its primary, verified; move the counter; save.

        False if the database refuses the address (the caller raises).
        """
        ...

    def move_security_counter(
        self, user: VerifiedUser, *, end_sessions: bool, with_fields: tuple[str, ...] = ()
    ) -> None:
        """Move the (locked) user's counter on and save it, with the user fields ``with_fields``.

        With ``end_sessions`` it jumps to the next session epoch.
        """
        ...

    def holders(self, user: VerifiedUser, address: str) -> list[Holder]:
        """The other accounts that hold ``address``."""
        ...

    def can_release(self) -> bool:
        """Return whether an unproved address can be taken off the account that holds it."""
        ...

    def release(self, address: str, pks: list[Any]) -> list[tuple[VerifiedUser, str]]:
        """Take ``address`` off the accounts ``pks`` that hold it unproved; lock them first.

        Return each released account with the address it had. Raise
        ``EmailTakenMeanwhile`` when the database refuses.
        """
        ...

    def lock_unproven(self, address: str, pks: list[Any]) -> list[VerifiedUser]:
        """Lock the accounts ``pks`` that hold ``address`` unproved, in key order; return them.

        For a store that cannot ``release``: the flow hands each to the
        host's ``RELEASE_UNPROVEN_HOLDER``. One that proved the address since
        it was looked up is left out.
        """
        ...

    # For the adoption and audit commands (``adoption``), never the flows.

    def never_verified(self, using: str | None = None) -> QuerySet[Any]:
        """The users this store never marked verified, as a queryset of the user model."""
        ...

    def verified_holders(self, found: list[str], using: str | None = None) -> dict[str, set[Any]]:
        """The accounts that have any of ``found`` verified: pks by compared address.

        One lookup for a whole batch (call under the addresses' locks).
        """
        ...

    def trust(self, rows: list[tuple[Any, str]], when: datetime, using: str | None = None) -> int:
        """Mark the ``(pk, address)`` rows verified, as of ``when``; return how many.

        The caller has checked, under the addresses' locks, that no other
        account has them verified (``verified_holders``).
        """
        ...

    def drifted(self, using: str | None = None) -> Iterator[tuple[Any, str]]:
        """Yield ``(pk, address)`` of users marked verified for an address they no longer have."""
        ...

    def unverify(
        self, pks: list[Any], using: str | None = None, *, only_drifted: bool = False
    ) -> int:
        """Clear the verified state of the users ``pks``; return how many were cleared.

        With ``only_drifted`` (the audit's ``--fix``, whose list may be
        minutes old), only of those still ``drifted``, checked again under
        their locks: one that proved its new address meanwhile keeps it.
        """
        ...


#: The counter counts in steps of this size when an event ends sessions.
SESSION_STEP = VerifiedEmailMixin.SESSION_STEP


def session_epoch(counter: int) -> int:
    """Return the session epoch of a security counter: sessions older than it end."""
    return (counter or 0) // SESSION_STEP


def moved(counter: int, *, end_sessions: bool) -> int:
    """Return ``counter`` moved on: by one, or to the next session epoch."""
    counter = counter or 0
    return (counter // SESSION_STEP + 1) * SESSION_STEP if end_sessions else counter + 1
