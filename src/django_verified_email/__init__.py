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
    from django.db import transaction
    from django.utils import timezone

    from .exceptions import EmailTaken, NoEmail
    from .stores import get_store

    store = get_store()
    if not store.address(user):
        raise NoEmail
    with transaction.atomic():
        # Locked first, as every flow does: the profile store creates a
        # missing row under this lock (two first uses at once would collide).
        store.lock_user(user.pk)
        if not store.mark_verified(user, timezone.now()):
            raise EmailTaken
