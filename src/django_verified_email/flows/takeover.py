"""Taking an account back: what a revert and a deny do to access, and the new password.

A revert (``revert.py``) and a deny (``deny.py``) both mean "someone who knew
the password tried to move this account". Both call ``retire_access``: every
session of the account ends and the password in use stops working. The link
that got them here proved the mailbox, so its owner sets a new password at
once, through a one-time "set a new password" token (``set_password_token``,
``check_set_password``, ``confirm_set_password``). Recovery reuses the same
verbs.
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from .. import tokens
from ..delivery import atomic_outbox
from ..exceptions import InvalidPassword
from ..models import VerifiedUser
from ..stores import get_store
from . import links


def retire_access(user: VerifiedUser) -> None:
    """End every session of the (locked) user and retire the password in use; save.

    The password becomes unusable (whoever asked for the change knew it), and
    the security counter moves to the next session epoch: every session
    stored a hash of both at login, so all of them end, on every session
    backend, the one of the request that called this included. Links sent
    before die with the counter. Call it inside the flow's transaction, after
    any address change of the same flow.
    """
    user.set_unusable_password()
    get_store().move_security_counter(user, end_sessions=True, with_fields=("password",))


def set_password_token(user: VerifiedUser) -> str:
    """Return the one-time token that sets a new password for ``user``, as it is now.

    For the answer to a revert or a deny (the page's form, the API's
    ``password_token``) and the email that confirms it. It works once, for
    ``LINK_MAX_AGE``, and only while the password is the retired one.
    """
    return tokens.make_set_password_token(user)


def _open(token: object, *, lock: bool) -> VerifiedUser:
    return links.open_link(links.SET_PASSWORD, token, lock=lock).user


def check_set_password(token: object) -> VerifiedUser:
    """Return the user a "set a new password" token is for, without using it."""
    return _open(token, lock=False)


def validate_new_password(user: VerifiedUser, new_password: object) -> str:
    """Return ``new_password`` if Django's password validators accept it, or raise.

    Raises ``InvalidPassword`` whose detail is the validators' messages.
    """
    if not isinstance(new_password, str) or not new_password:
        raise InvalidPassword
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as error:
        raise InvalidPassword(" ".join(error.messages)) from None
    return new_password


def confirm_set_password(token: object, new_password: object) -> VerifiedUser:
    """Use a "set a new password" token: the user's password becomes ``new_password``.

    Validated by ``AUTH_PASSWORD_VALIDATORS`` (``InvalidPassword``). Nobody is
    logged in by it: the user logs in with the new password.
    """
    with atomic_outbox():
        user = _open(token, lock=True)
        password = validate_new_password(user, new_password)
        user.set_password(password)
        user.save(update_fields=["password"])
    password_validation.password_changed(password, user)
    return user
