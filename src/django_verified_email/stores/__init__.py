"""Where the user's address and its verified state live: one interface, several stores.

The flows, tokens, emails, admin and commands never read or write the
verified state on the user themselves: they ask the store ``get_store()``
returns. Which one is decided by the user model, with no setting: a model
with ``VerifiedEmailMixin`` keeps the state in its own row (``user``, the
fastest: no extra join, no extra row); any other model, Django's
``auth.User`` included, gets a row of the app's own per user (``profile``).
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model

from ..models import keeps_own_state
from .base import SESSION_STEP, AddressStore, Holder, moved, session_epoch
from .profile import ProfileStore
from .user import UserStore

__all__ = [
    "SESSION_STEP",
    "AddressStore",
    "Holder",
    "ProfileStore",
    "UserStore",
    "get_store",
    "moved",
    "session_epoch",
]


@cache
def _store_for(model: type) -> AddressStore:
    return UserStore() if keeps_own_state(model) else ProfileStore()


def get_store() -> AddressStore:
    """Return the store of the user model in use: ``user`` with the mixin, else ``profile``."""
    return _store_for(get_user_model())
