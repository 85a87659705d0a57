"""An account that holds an address it never proved, where the address can't be blanked.

Where the address is the login name, or a required field, a store cannot take
an unproved address off the account that typed it (``AddressStore.can_release``
is False). One sign-up with the owner's old address would then keep the owner
from ever getting it back (a revert), or a proved new address from being
taken (a completion). ``RELEASE_UNPROVEN_HOLDER`` names the host's answer;
the default, ``release_unproven_holder``, retires the squatting account.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from ..conf import app_settings
from ..models import VerifiedUser

#: The reserved top-level domain (RFC 2606) placeholders are written under:
#: no mail server delivers to it, and no sign-up can prove such an address.
PLACEHOLDER_DOMAIN = "unclaimed.invalid"

ReleaseHook = Callable[[Any, str], bool]


def placeholder_address(user: VerifiedUser) -> str:
    """Return an address for ``user`` that no other account has and no mailbox receives.

    The primary key keeps it unique among accounts (a login name must be);
    the random part keeps it from being guessed or written ahead of time.
    """
    return f"unclaimed-{user.pk}-{secrets.token_hex(8)}@{PLACEHOLDER_DOMAIN}"


def release_unproven_holder(user: VerifiedUser, address: str) -> bool:
    """Retire ``user``, which typed ``address`` and never proved it; return True.

    The default ``RELEASE_UNPROVEN_HOLDER``. The account is deactivated
    (``is_active=False``: it can no longer log in, and its sessions end) and
    its address becomes a placeholder (``placeholder_address``); the save
    moves its security counter, so its links die. Staff can give it a real
    address again. False when the database refuses the placeholder: the flow
    then refuses, as if the address were taken.
    """
    field = user.get_email_field_name()
    fields = [field]
    setattr(user, field, placeholder_address(user))
    try:
        user._meta.get_field("is_active")
    except FieldDoesNotExist:
        pass  # a model without the field: the placeholder alone
    else:
        user.is_active = False
        fields.append("is_active")
    try:
        with transaction.atomic():
            user.save(update_fields=fields)
    except IntegrityError:
        return False
    return True


def release_hook() -> ReleaseHook | None:
    """Return the callable ``RELEASE_UNPROVEN_HOLDER`` names, None when it is None."""
    path = app_settings.RELEASE_UNPROVEN_HOLDER
    if path is None:
        return None
    hook: ReleaseHook = import_string(path)
    return hook
