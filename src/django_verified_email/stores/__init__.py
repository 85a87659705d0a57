"""Where the user's address and its verified state live: one interface, several stores.

The flows, tokens, emails, admin and commands never read or write the
verified state on the user themselves: they ask the store ``get_store()``
returns. Which one is decided by the user model, with no setting: a model
with ``VerifiedEmailMixin`` keeps the state in its own row (``user``, the
fastest: no extra join, no extra row); any other model, Django's
``auth.User`` included, gets a row of the app's own per user (``profile``).

An installed app that owns the record of addresses (the allauth bridge,
``contrib.allauth``) registers a store of its own from its ``ready()`` with
``use_store``; the core never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "use_store",
]

#: The store factory an installed app registered (``use_store``), if any.
_registered: list[Callable[[AddressStore], AddressStore]] = []


def use_store(factory: Callable[[AddressStore], AddressStore]) -> None:
    """Make ``get_store()`` answer with ``factory(base)``; call from an ``AppConfig.ready()``.

    ``base`` is the store the user model alone would get (``user`` or
    ``profile``): the new store may keep what it does not hold itself (the
    security counter) there. One app may register; a second registration
    replaces the first.
    """
    _registered[:] = [factory]
    _store_for.cache_clear()


@cache
def _store_for(model: type) -> AddressStore:
    base: AddressStore = UserStore() if keeps_own_state(model) else ProfileStore()
    return _registered[0](base) if _registered else base


def get_store() -> AddressStore:
    """Return the store in use: a registered one (``use_store``), else ``user`` or ``profile``.

    ``user`` with the mixin, else ``profile``.
    """
    return _store_for(get_user_model())
