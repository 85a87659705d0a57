"""Verify email addresses and change them safely with a dual one-time-link flow."""

__version__ = "0.1.0.dev0"


def is_email_verified(user) -> bool:
    """Return whether the user's address proved itself, whatever store keeps the state."""
    from .stores import get_store

    return get_store().is_verified(user)


def mark_email_verified(user) -> None:
    """Mark the user's current address verified and save it, whatever store keeps the state.

    For data migrations and sign-up code that proved the address some other
    way. Raises ``exceptions.EmailTaken`` when another account proved the
    address first (the profile store keeps one proved address per account),
    and ``exceptions.NoEmail`` for a user without an address.
    """
    from django.db import router, transaction
    from django.utils import timezone

    from .exceptions import EmailTaken, NoEmail
    from .models import PROFILE, keeps_own_state, lock_address
    from .stores import get_store

    store = get_store()
    address = store.address(user)
    if not address:
        raise NoEmail
    using = user._state.db or router.db_for_write(type(user))
    with transaction.atomic(using=using):
        # Locked first, as every flow does: the profile store creates a
        # missing row under this lock (two first uses at once would collide).
        # Then the lock every step that proves an address takes
        # (models.AddressLock), and "taken?" under it.
        locked = store.lock_user(user.pk)
        if locked is not None and not keeps_own_state(type(user)):
            # The state as the lock read it, on the database written to: a
            # lazy read of the caller's instance would go wherever the
            # router sends reads (a replica, behind the primary).
            setattr(user, PROFILE, getattr(locked, PROFILE))
        lock_address(address, using=using)
        taken = any(holder.verified for holder in store.holders(user, address))
        if taken or not store.mark_verified(user, timezone.now()):
            raise EmailTaken
