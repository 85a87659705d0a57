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

from datetime import datetime, timedelta

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.utils import timezone

from .. import revokers, tokens
from ..conf import DEFAULTS, app_settings
from ..delivery import atomic_outbox
from ..exceptions import InvalidPassword
from ..models import EmailChange, VerifiedUser
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


def taken_since(change: EmailChange) -> datetime:
    """From when a second factor of the account counts as the taker's.

    ``RECOVERY_DELAY`` seconds before the change was requested: a taker may
    enrol a device first and ask for the change later. With the recovery
    path off (None) the window is its default all the same.
    """
    delay = app_settings.RECOVERY_DELAY
    if delay is None:
        delay = DEFAULTS["RECOVERY_DELAY"]
    return change.created_at - timedelta(seconds=delay)


def revoke_access(change: EmailChange, *, completion: bool = False) -> None:
    """Run the access revokers (``ACCESS_REVOKERS``) on the change's locked user.

    For a revert, a deny or a stop, after ``retire_access``, inside the
    flow's transaction; ``completion``: only the revokers that also run on a
    completed change (``LOGOUT_OTHER_SESSIONS``). A revoker that fails does
    not stop the others nor the flow: it is recorded on the change as owed,
    for ``revoke_owed``. Device types that had to be kept are recorded for
    the owner's notice.
    """
    outcome = revokers.run(change.user, since=taken_since(change), completion=completion)
    updates: dict[str, object] = {}
    if outcome.failed:
        owed = change.access_owed.split()
        updates["access_owed"] = "\n".join([*owed, *(p for p in outcome.failed if p not in owed)])
        updates["access_owed_at"] = change.access_owed_at or timezone.now()
    if outcome.kept:
        updates["devices_kept"] = "\n".join(outcome.kept)
    if updates:
        EmailChange.objects.filter(pk=change.pk).update(**updates)
        for name, value in updates.items():
            setattr(change, name, value)


def owed_revocations():
    """Changes with access revokers that failed and are still owed."""
    return EmailChange.objects.filter(access_owed_at__isnull=False)


def revoke_owed() -> int:
    """Run again every owed access revoker; return on how many changes all of them succeeded.

    Each change in its own transaction, its user and row locked: one whose
    revokers fail again stays owed for the next run (``complete_due``, every
    minute from cron or the periodic task), and the others still go. A
    thief's token must not survive because a database or an API was down
    for a moment.
    """
    done = 0
    for change_id in owed_revocations().order_by("pk").values_list("pk", flat=True):
        with transaction.atomic(using=router.db_for_write(EmailChange)):
            change = EmailChange.objects.lock_with_user(change_id)
            if change is None or change.access_owed_at is None:
                continue  # done by another run meanwhile
            outcome = revokers.run(
                change.user, since=taken_since(change), only=change.access_owed.split()
            )
            kept = change.devices_kept.split()
            kept += [name for name in outcome.kept if name not in kept]
            EmailChange.objects.filter(pk=change.pk).update(
                access_owed="\n".join(outcome.failed),
                access_owed_at=change.access_owed_at if outcome.failed else None,
                devices_kept="\n".join(kept),
            )
        if not outcome.failed:
            done += 1
    return done


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
