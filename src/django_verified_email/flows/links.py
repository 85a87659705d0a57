"""Opening a link: the one reader of every link a flow acts on.

Each flow names its kind of link (``LinkKind``: verify, change, deny,
revert, stop, set password); ``open_link`` reads every kind with the same
ladder of checks, in the same order:

1. genuine: well formed, signed with one of our keys (``tokens``);
2. meant for this page: what the link alone says (a deny needs the old
   address's link), before any row is read;
3. found: its change, or its user, still exists (locked with ``lock``);
4. the same account: a link naming a user and a change names them both;
5. still waiting: the change is in the state the link was sent for;
6. active: the user may still log in;
7. fits: the account is as it was when the link was sent;
8. fresh: younger than its kind's maximum age.

A refusal logs one DEBUG line naming the check that failed (never the token)
and answers as the contract says: ``InvalidToken``, or ``ExpiredToken`` for
a link that passed every other check. Expiry comes last: an old link that no
longer fits is simply invalid, and says nothing about the account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Subquery
from django.utils.translation import gettext_lazy as _

from .. import addresses, emails, tokens
from ..exceptions import ExpiredToken, InvalidToken
from ..models import (
    EmailChange,
    VerifiedUser,
    change_with_user,
    users_with_state,
    with_user_state,
    write_database,
)
from ..stores import get_store
from ..tokens import Step

Status = EmailChange.Status

logger = logging.getLogger("django_verified_email")


@dataclass(frozen=True)
class Opened:
    """What a link opens: its user and, for a change's link, the change and its step."""

    user: VerifiedUser
    change: EmailChange | None = None
    step: tokens.Step | None = None


#: A check of the ladder: why it refuses (for the log), and what must hold.
Check = tuple[str, Callable[[Any, Opened], bool]]


@dataclass(frozen=True)
class LinkKind:
    """One kind of link, as ``open_link`` reads it; a check left None always passes."""

    #: What the log calls it.
    name: str
    #: ``tokens.read_<kind>_token``.
    read: Callable[[object], Any]
    #: The class ``read`` returns: a link already read is not read again.
    link_type: type
    #: ``(link, lock) -> Opened``, the rows locked with ``lock``; None when gone.
    load: Callable[[Any, bool], Opened | None]
    #: Why a link that ``load`` found nothing for is refused.
    missing: str
    #: What the link alone must say, checked before any row is read.
    meant_for: tuple[str, Callable[[Any], bool]] | None = None
    belongs: Check | None = None
    waiting: Check | None = None
    fits: Check | None = None
    #: The answer to a genuine link that is only too old.
    expired: Callable[[], ExpiredToken] = ExpiredToken


def _active(link: Any, opened: Opened) -> bool:
    return bool(opened.user.is_active)


def read(kind: LinkKind, token: object) -> Any:
    """Return what a genuine link of ``kind`` says, reading no row; or raise ``InvalidToken``.

    Whether it still works is ``open_link``'s to say. A link this returned
    may be handed to ``open_link`` in place of its token: it is not read twice.
    """
    if isinstance(token, kind.link_type):
        return token
    try:
        return kind.read(token)
    except tokens.BadToken:
        raise _refused(kind, "malformed, forged, or signed with an unknown key") from None


def open_link(kind: LinkKind, token: object, *, lock: bool) -> Opened:
    """Return what a link of ``kind`` opens, if it still works; its rows locked with ``lock``.

    Raises ``InvalidToken``, or ``ExpiredToken`` (``kind.expired``).
    """
    link = read(kind, token)
    if kind.meant_for is not None and not kind.meant_for[1](link):
        raise _refused(kind, kind.meant_for[0])
    opened = kind.load(link, lock)
    if opened is None:
        raise _refused(kind, kind.missing)
    active: Check = ("inactive user", _active)
    for check in (kind.belongs, kind.waiting, active, kind.fits):
        if check is not None and not check[1](link, opened):
            raise _refused(kind, check[0])
    if link.expired:
        logger.debug("Refused a %s link: expired", kind.name)
        raise kind.expired()
    return opened


def _refused(kind: LinkKind, reason: str) -> InvalidToken:
    logger.debug("Refused a %s link: %s", kind.name, reason)
    return InvalidToken()


# What each kind loads, and locks: the locks of the flow that uses it, taken
# in the order of every flow (the user's row first, then change rows).


def _load_user(link: tokens.VerifyLink | tokens.SetPasswordLink, lock: bool) -> Opened | None:
    if lock:
        user = get_store().lock_user(link.user_id)
    else:
        user = users_with_state().filter(pk=link.user_id).first()
    return None if user is None else Opened(user)


def _load_step(link: tokens.ChangeLink, lock: bool) -> Opened | None:
    change: EmailChange | None
    if lock and link.step == Step.NEW:
        # Completing writes the user row and takes an address: lock both and
        # check the link against that locked state.
        change = EmailChange.objects.lock_for_taking(link.change_id, "new_email")
    elif lock:
        # Confirming or refusing at the old address writes the change row and
        # the user's (the new address's code, a deny's password and counter).
        change = EmailChange.objects.lock_with_user(link.change_id)
    else:
        change = change_with_user(link.change_id)
    if change is None or change.user is None:
        return None
    return Opened(change.user, change, link.step)


def _load_completed(link: tokens.RevertLink, lock: bool) -> Opened | None:
    change: EmailChange | None
    if lock:
        # Taking the old address back is taking an address: the same locks as
        # a completion, so a revert and another account's change to that
        # address cannot both win.
        change = EmailChange.objects.lock_for_taking(link.change_id, "old_email")
    else:
        change = with_user_state(EmailChange.objects.filter(pk=link.change_id)).first()
    return None if change is None else Opened(change.user, change)


def _load_kept(link: tokens.KeepLink, lock: bool) -> Opened | None:
    change: EmailChange | None
    if lock:
        change = EmailChange.objects.lock_with_user(link.change_id)
    else:
        change = change_with_user(link.change_id)
    if change is None or change.user is None:
        return None
    return Opened(change.user, change)


def _load_recovery(link: tokens.StopLink, lock: bool) -> Opened | None:
    change: EmailChange | None
    if lock:
        # A stop writes the user row (password, counter) and the change row:
        # the user row first, as every flow takes them, so none deadlocks.
        owner = EmailChange.objects.filter(pk=link.change_id).values("user_id")[:1]
        user = get_store().lock_user(Subquery(owner))
        change = EmailChange.objects.select_for_update().filter(pk=link.change_id).first()
        if change is None or user is None or change.user_id != user.pk:
            return None
        change.user = user
    else:
        change = with_user_state(EmailChange.objects.filter(pk=link.change_id)).first()
    return None if change is None else Opened(change.user, change)


# The checks.


def _fingerprint_fits(*, with_verified_state: bool) -> Callable[[Any, Opened], bool]:
    # A new address, password or security counter kills the link.
    def fits(link: Any, opened: Opened) -> bool:
        return link.fingerprint == tokens.fingerprint(
            opened.user, with_verified_state=with_verified_state
        )

    return fits


def _same_user(link: tokens.RevertLink | tokens.StopLink | tokens.KeepLink, opened: Opened) -> bool:
    assert opened.change is not None
    return tokens.same_id(link.user_id, opened.change.user_id)


def _unverified(link: tokens.VerifyLink, opened: Opened) -> bool:
    return not get_store().is_verified(opened.user)


def _step_waiting(link: tokens.ChangeLink, opened: Opened) -> bool:
    change = opened.change
    assert change is not None
    return (
        emails.STEP_STATUS.get(link.step) == change.status
        and link.generation == change.link_generation
    )


def _old_step_unused(link: tokens.ChangeLink, opened: Opened) -> bool:
    """Return whether an old-address link may still refuse: its step was never confirmed.

    Any generation works, and so does the link of a change a later request
    of the account superseded: refusing only takes power away, so a taker
    who resends, or asks again, cannot keep the owner's "this wasn't me"
    links dead. A step confirmed (by this link or a newer one) ends them:
    the revert link covers that case.
    """
    change = opened.change
    assert change is not None
    return (
        change.status in (Status.AWAITING_OLD, Status.SUPERSEDED)
        and change.old_confirmed_at is None
        and 0 < link.generation <= change.link_generation
    )


def _not_undone(link: tokens.RevertLink, opened: Opened) -> bool:
    change = opened.change
    assert change is not None
    return (
        change.status == Status.COMPLETED and change.reverted_at is None and bool(change.old_email)
    )


def _address_still_set_by_changes_since(link: tokens.RevertLink, opened: Opened) -> bool:
    """Return whether the account's address is the one the flows last gave it.

    Later changes made through the flows do not void the way back: whoever
    took an account over could otherwise change the address once more, to
    send the next notice to a mailbox of theirs, and so kill the real owner's
    link. An address set outside the app does: the link no longer describes
    the account.
    """
    change = opened.change
    assert change is not None
    changes = EmailChange.objects.using(write_database(opened.user))
    latest = changes.completed_since(change).order_by("-pk").first()
    return latest is not None and addresses.same_address(
        addresses.of_user(opened.user), latest.new_email
    )


def _revert_waiting(link: tokens.KeepLink, opened: Opened) -> bool:
    change = opened.change
    assert change is not None
    return (
        change.status == Status.COMPLETED
        and change.reverted_at is None
        and change.revert_scheduled_at is not None
        and change.revert_scheduled_at.timestamp() == link.scheduled
    )


def revertible(change: EmailChange) -> bool:
    """Return whether a revert link of the (loaded) ``change`` would still be honoured.

    The checks of ``REVERT`` that read rows, for a revert that was scheduled
    by the link and completes later.
    """
    opened = Opened(change.user, change)
    link = tokens.RevertLink(change_id=change.pk, user_id=tokens.portable_id(change.user_id))
    return all(
        check(link, opened) for check in (_not_undone, _active, _address_still_set_by_changes_since)
    )


def _recovery_pending(link: tokens.StopLink, opened: Opened) -> bool:
    change = opened.change
    assert change is not None
    # Completed, cancelled, superseded or already stopped: one-time.
    return change.old_email_lost and change.status in (Status.AWAITING_NEW, Status.SCHEDULED)


def _same_old_address(link: tokens.StopLink, opened: Opened) -> bool:
    assert opened.change is not None
    return addresses.same_address(addresses.of_user(opened.user), opened.change.old_email)


def _revert_expired() -> ExpiredToken:
    return ExpiredToken(
        _(
            "This link has expired: a change can only be undone for a limited time. "
            "Please contact support."
        )
    )


def _set_password_expired() -> ExpiredToken:
    return ExpiredToken(
        _("This link has expired. Use the site's password reset to choose a new password.")
    )


MOVED_ON = "the account moved on since it was sent"

#: A verification link: the user's current address, not yet verified.
VERIFY = LinkKind(
    name="verify",
    read=tokens.read_verify_token,
    link_type=tokens.VerifyLink,
    load=_load_user,
    missing="no such user",
    waiting=("the address is verified already", _unverified),
    fits=(MOVED_ON, _fingerprint_fits(with_verified_state=True)),
)

#: The link of one step of a pending change (to the old address, then to the new).
CHANGE = LinkKind(
    name="change",
    read=tokens.read_change_token,
    link_type=tokens.ChangeLink,
    load=_load_step,
    missing="no such change",
    waiting=("the step is done, or a newer link was sent", _step_waiting),
    fits=(MOVED_ON, _fingerprint_fits(with_verified_state=False)),
)

#: An old address's link, used to refuse the account's open change ("this
#: wasn't me"): also one a resend replaced or a later request superseded
#: (``_old_step_unused``; the deny flow finds the open change).
DENY = LinkKind(
    name="deny",
    read=tokens.read_change_token,
    link_type=tokens.ChangeLink,
    load=_load_step,
    missing="no such change",
    meant_for=("not the old address's link", lambda link: link.step == Step.OLD),
    waiting=("the old address confirmed, or the change closed", _old_step_unused),
    fits=(MOVED_ON, _fingerprint_fits(with_verified_state=False)),
)

#: The "this wasn't me" link of a completed change.
REVERT = LinkKind(
    name="revert",
    read=tokens.read_revert_token,
    link_type=tokens.RevertLink,
    load=_load_completed,
    missing="no such change",
    belongs=("for another account", _same_user),
    waiting=("not completed, undone already, or no old address", _not_undone),
    fits=("the address was set outside the flows since", _address_still_set_by_changes_since),
    expired=_revert_expired,
)

#: The "stop this change" link of a recovery, to its old address.
STOP = LinkKind(
    name="stop",
    read=tokens.read_stop_token,
    link_type=tokens.StopLink,
    load=_load_recovery,
    missing="no such change",
    belongs=("for another account", _same_user),
    waiting=("the recovery is no longer pending", _recovery_pending),
    fits=(
        "the account no longer has the old address",
        _same_old_address,
    ),
)

#: The new address's "keep the change" link, sent when a revert is scheduled.
KEEP = LinkKind(
    name="keep",
    read=tokens.read_keep_token,
    link_type=tokens.KeepLink,
    load=_load_kept,
    missing="no such change",
    belongs=("for another account", _same_user),
    waiting=("no revert of it is waiting", _revert_waiting),
)

#: The one-time "set a new password" link given after a revert or a deny.
SET_PASSWORD = LinkKind(
    name="set-password",
    read=tokens.read_set_password_token,
    link_type=tokens.SetPasswordLink,
    load=_load_user,
    missing="no such user",
    fits=(MOVED_ON, _fingerprint_fits(with_verified_state=False)),
    expired=_set_password_expired,
)
