"""Confirming a step by its one-time code: what typing the code of an email does.

Typing the code (``confirm_verification_by_code``, ``confirm_change_by_code``)
does what the email's link does, but only for a request authenticated as the
account the code was sent for: a code is short enough to guess, a link is not.
Making, storing and checking codes is ``django_verified_email.codes``.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import tokens
from ..codes import CHANGE_NEW, CHANGE_OLD, RECOVERY_NEW, VERIFY, use
from ..exceptions import ExpiredCode, InvalidToken, VerifiedEmailError
from ..models import EmailChange, VerifiedUser
from ..stores import get_store
from . import change as change_flow
from . import links
from . import verify as verify_flow

#: The change step each purpose confirms, and back.
STEP_PURPOSE = {tokens.Step.OLD: CHANGE_OLD, tokens.Step.NEW: CHANGE_NEW}


def confirm_verification_by_code(user: VerifiedUser, typed: object) -> VerifiedUser:
    """Verify the user's address with the code of its verification email.

    ``user`` is who the request is authenticated as: only their own code
    can match.
    """

    def locate() -> VerifiedUser | VerifiedEmailError:
        locked = get_store().lock_user(user.pk)
        if locked is None or not locked.is_active or get_store().is_verified(locked):
            # Verified meanwhile (by the link, say): the step is done.
            return ExpiredCode()
        return use(VERIFY, locked, typed) or locked

    return verify_flow.verify_step(locate)


def confirm_change_by_code(
    user: VerifiedUser,
    typed: object,
    *,
    base_url: str | None = None,
    link: object = None,
    on_complete: Callable[[EmailChange], None] | None = None,
) -> EmailChange:
    """Confirm the waiting step of the user's pending change with its code.

    Which step is the change's: the old address's code while it awaits the
    old address, the new address's after. Returns the change, as
    ``confirm_change`` does.

    ``link``: for the code box of a page a change link opened, that link,
    posted back to its own URL. Such a page sends no referrer, so its forms
    reach other URLs with "Origin: null", which CSRF protection refuses;
    the link (used or not, but genuine and one of the user's changes) is
    the proof that the page was the user's. ``on_complete`` as
    ``confirm_change`` takes it.
    """
    if link is not None:
        change_id = links.read(links.CHANGE, link).change_id
        if not EmailChange.objects.filter(pk=change_id, user_id=user.pk).exists():
            raise InvalidToken

    def locate() -> tuple[EmailChange, tokens.Step] | VerifiedEmailError:
        # Read where the locks below are taken: a replica may not have it yet.
        pending = EmailChange.objects.pending_for(user).for_write().first()
        step = _step_of(pending)
        if pending is None or step is None:
            return ExpiredCode()
        change: EmailChange | None
        if step == tokens.Step.NEW:
            # Completing writes the user and takes an address: lock as the
            # link does (the user first, then the changes to that address).
            change = EmailChange.objects.lock_for_taking(pending.pk, "new_email")
        else:
            change = EmailChange.objects.lock_with_user(pending.pk)
        if (
            change is None
            or change.status != pending.status
            or change.user_id != user.pk
            or not change.user.is_active
        ):
            return ExpiredCode()
        purpose = RECOVERY_NEW if change.old_email_lost else STEP_PURPOSE[step]
        return use(purpose, change.user, typed, change=change) or (change, step)

    return change_flow.confirm_step(locate, base_url=base_url, on_complete=on_complete)


def _step_of(change: EmailChange | None) -> tokens.Step | None:
    if change is None:
        return None
    if change.status == EmailChange.Status.AWAITING_OLD:
        return tokens.Step.OLD
    if change.status == EmailChange.Status.AWAITING_NEW:
        return tokens.Step.NEW
    return None


__all__ = [
    "confirm_change_by_code",
    "confirm_verification_by_code",
]
