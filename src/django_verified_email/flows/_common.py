"""What several flows share: re-authenticating, taking an address (links: ``links``).

Taking an address (a completion, a revert) never loses to an account that only
typed it: ``taken_by_other`` counts the holders that proved it, and
``claim_address`` takes it off the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from django.db import connections, transaction
from django.utils.translation import gettext_lazy as _

from .. import codes, signals, throttle
from ..conf import app_settings
from ..delivery import Outbox, atomic_outbox, signal_after_commit
from ..exceptions import (
    DeliveryFailed,
    ExpiredCode,
    InvalidCode,
    LockedOut,
    ReauthenticationUnavailable,
    RecoveryNeedsPassword,
    SecondFactorRequired,
    VerifiedEmailError,
    WrongPassword,
    WrongSecondFactor,
)
from ..models import EmailChange, VerifiedUser, lock_address, write_database
from ..second_factor import Proof, Verdict, precheck
from ..second_factor import check as check_second_factor
from ..stores import Holder, get_store, unproven
from .reauth import CODE, NONE, SECOND_FACTOR, reauthentication

#: What a take-back's act returns: the change it closed (None: it refused).
Taken = TypeVar("Taken", EmailChange, EmailChange | None)


def reauthenticate(
    user: VerifiedUser,
    password: object,
    second_factor: Proof | None = None,
    *,
    code: object = None,
    recovery: bool = False,
) -> None:
    """Check the user's password, and their second factor, under the attempt limit, or raise.

    Raises ``WrongPassword``, or ``LockedOut`` once the attempts are used up.
    A right password leaves its attempt counted: the caller forgets it in
    its own transaction (``throttle.reset_attempts``), and within
    ``attempts_forgotten_on_failure`` if that transaction may fail.

    ``second_factor``: what the request brings toward the user's second
    factor (``second_factor.Proof``); None checks none. A user with one
    whose request passed none is refused with ``SecondFactorRequired``
    before any attempt is taken; a wrong one-time password counts as a
    wrong password (``WrongSecondFactor``), and is only tried once the
    password was right.

    A user without a usable password (``codes.may_reauthenticate_by_code``)
    types ``code``, the one ``flows.send_reauth_code`` sent to their
    verified address, in its place: counted as a password is, and as every
    code is. Not for a ``recovery``: that code would go to the mailbox the
    user lost, so only an accepted one-time password of a second factor
    stands in for the password there (else ``RecoveryNeedsPassword``).

    Where the host allows no code (``reauth_methods``), a user without a
    usable password whose second factor takes a one-time password sends
    that alone (``reauth.reauthentication`` is ``"second_factor"``; else
    ``SecondFactorRequired``); one with no allowed way is refused with
    ``ReauthenticationUnavailable`` before any attempt is taken.
    """
    method = reauthentication(user)
    if method == NONE:
        throttle.check_lockout(user)
        raise ReauthenticationUnavailable
    if method == SECOND_FACTOR:
        _reauthenticate_by_second_factor(user, second_factor, missing=SecondFactorRequired)
        return
    by_code = method == CODE
    if by_code and recovery:
        _reauthenticate_by_second_factor(user, second_factor)
        return
    if second_factor is not None and precheck(user, second_factor) == Verdict.MISSING:
        # A locked account hears of its lock first.
        throttle.check_lockout(user)
        raise SecondFactorRequired
    if by_code and code is None:
        throttle.check_lockout(user)
        raise InvalidCode(_("Your account has no password: ask for a code, then type it."))
    attempt = throttle.take_attempt(user)
    failure: type[WrongPassword] = WrongPassword
    if by_code:
        refusal = _use_reauth_code(user, code)
        right = refusal is None
    else:
        right = isinstance(password, str) and user.check_password(password)
    if right:
        if second_factor is None:
            return
        verdict = check_second_factor(user, second_factor)
        if verdict in (Verdict.NOT_NEEDED, Verdict.PASSED):
            return
        if verdict == Verdict.MISSING:
            # Removed between the two looks: nothing was guessed.
            throttle.reset_attempts(user)
            raise SecondFactorRequired
        failure = WrongSecondFactor
    _failed(user, attempt)
    if by_code and not right:
        assert refusal is not None
        raise refusal
    raise failure(attempts_left=app_settings.REAUTH_MAX_ATTEMPTS - attempt)


def _failed(user: VerifiedUser, attempt: int) -> None:
    """Report a failed re-authentication, and lock once the attempts are used up."""
    signal_after_commit(signals.reauthentication_failed, user=user, attempts=attempt)
    if attempt >= app_settings.REAUTH_MAX_ATTEMPTS:
        seconds = throttle.lock(user)
        signal_after_commit(signals.user_locked_out, user=user, retry_after=seconds)
        raise LockedOut(retry_after=seconds)


def _use_reauth_code(user: VerifiedUser, typed: object) -> VerifiedEmailError | None:
    """Check a re-authentication code, and use it up if it matches; return the refusal, if any.

    In a transaction of its own, under the user's row lock (the order
    ``codes.use`` needs): a wrong try stays counted whatever follows.
    """
    with transaction.atomic(using=write_database(user)):
        locked = get_store().lock_user(user.pk)
        if locked is None:
            return ExpiredCode()
        return codes.use(codes.REAUTH, locked, typed)


def _reauthenticate_by_second_factor(
    user: VerifiedUser,
    proof: Proof | None,
    *,
    missing: type[VerifiedEmailError] = RecoveryNeedsPassword,
) -> None:
    """Re-authenticate a user without a password by an accepted ``otp`` only, or raise ``missing``.

    For a recovery (the code would go to the lost mailbox), and wherever the
    host allows no code. A session that passed the factor once is not
    enough: the one-time password stands in for the password, in this request.
    """
    if proof is None or proof.otp is None or precheck(user, proof) == Verdict.NOT_NEEDED:
        throttle.check_lockout(user)
        raise missing
    attempt = throttle.take_attempt(user)
    if check_second_factor(user, proof) == Verdict.PASSED:
        return
    _failed(user, attempt)
    raise WrongSecondFactor(attempts_left=app_settings.REAUTH_MAX_ATTEMPTS - attempt)


@contextmanager
def attempts_forgotten_on_failure(user: VerifiedUser) -> Iterator[None]:
    """Forget a right password's attempt count if the block fails.

    For a caller of ``reauthenticate``. The block forgets
    it in its own transaction when it succeeds (a commit less than forgetting
    it on its own); when anything stops it, rolled back or not, the right
    password must not stay counted as an attempt.
    """
    try:
        yield
    except BaseException:
        throttle.reset_attempts(user)
        raise


def set_verified_address(
    user: VerifiedUser, address: str, now: datetime, *, end_sessions: bool
) -> bool:
    """Give the (locked) user ``address``, verified, and save it (``AddressStore``).

    Call after ``claim_address`` for the same address, in the same transaction.

    Only for an address a link proved. The account's security counter moves
    (links sent before die), to the next session epoch with
    ``end_sessions`` (every session ends).

    Returns False if the database refuses the address. ``taken_by_other``
    asks what the host's constraint would say, but a rule it cannot read (a
    ``citext`` column, a case-insensitive collation) may fold letters
    otherwise: its refusal is then the answer, not a 500. No savepoint (two
    statements more on every completion): the caller raises at once, so the
    flow's transaction is rolled back and nothing runs in it after the error.
    """
    if not _holds_first(user):
        hold_address(user, address)
        if taken_by_other(user, address):
            # Another account proved it since ``claim_address`` looked: it
            # held its own row, which ``claim_address`` then found verified.
            return False
    return get_store().set_verified_address(user, address, now, end_sessions=end_sessions)


def _holds_first(user: VerifiedUser) -> bool:
    """Return whether ``claim_address`` takes the address lock before it looks.

    Where the database has no row locks (SQLite: the lock's write holds the
    whole database until the transaction ends), nothing can wait on a
    holder's row, so the lock can come first and one lookup after it
    answers for the whole step. Elsewhere the address lock is the last lock
    (``hold_address``), and the lookup is made again under it.
    """
    return not connections[write_database(user)].features.has_select_for_update


def hold_address(user: VerifiedUser, address: str) -> None:
    """Lock ``address`` for the (locked) ``user`` until the flow's transaction ends.

    Every step that makes an address verified takes this lock, as its last
    lock, before it asks whether another account holds the address
    (``models.lock_address``): two accounts can then never both prove one
    address, whatever unique rule the database has or lacks.
    """
    lock_address(address, using=write_database(user))


def proved_by_other(user: VerifiedUser, address: str) -> bool:
    """Return whether another account has ``address`` verified (call under ``hold_address``)."""
    return any(holder.verified for holder in get_store().holders(user, address))


def blocks(holders: list[Holder]) -> bool:
    """Return whether any of ``holders`` keeps the address from another account.

    An account that only typed an address and never proved it does not block
    one that proves it: the address is released from it instead
    (``AddressStore.can_release``), or, where the store cannot blank it (the
    login name, a required field), handed to the host's
    ``RELEASE_UNPROVEN_HOLDER``, unless that is None.
    """
    if not holders:
        return False
    if any(holder.verified for holder in holders):
        return True
    return not get_store().can_release() and unproven.release_hook() is None


def taken_by_other(user: VerifiedUser, address: str) -> bool:
    """Return whether another account holds ``address`` so that ``user`` cannot take it."""
    return blocks(get_store().holders(user, address))


def claim_address(user: VerifiedUser, address: str, outbox: Outbox) -> bool:
    """Take ``address`` off every other account that holds it unproved, for ``user``.

    Returns False, releasing nothing, when another account holds it so that
    ``user`` cannot take it (``taken_by_other``); one lookup answers both.
    Call under the locks of ``lock_for_taking`` (the taker's row first, then
    change rows): the holders' rows are locked last, in primary-key order,
    found with a plain read and checked again under the lock. Locking the
    lookup itself would lock every row it scans: without an index on the
    folded address (MariaDB) that is every user row, the rows other flows
    lock first, and the flows would deadlock. Each holder keeps its account
    with a blank, unverified address; its links die (its counter moves) and
    ``email_address_released`` tells the host. A host constraint that
    refuses the blank address ends it as ``EmailTakenMeanwhile``.
    """
    store = get_store()
    if _holds_first(user):
        hold_address(user, address)
    holders = store.holders(user, address)
    if not holders:
        return True
    if blocks(holders):
        return False
    found = [holder.pk for holder in holders]
    if not store.can_release():
        return _release_unproven(user, address, found, outbox)
    for holder, released in store.release(address, found):
        outbox.signal(signals.email_address_released, user=holder, email=released, taken_by=user)
    return True


def _release_unproven(user: VerifiedUser, address: str, pks: list, outbox: Outbox) -> bool:
    """Hand each unproved holder the store cannot blank to ``RELEASE_UNPROVEN_HOLDER``.

    The owner's way back (a revert) must not end at one sign-up with the old
    address where that address is the login name. The hook runs in the
    flow's transaction, on the holder's locked row; False from it refuses
    the take, as a taken address does (the caller raises, and the flow's
    transaction, with whatever the hook wrote, is rolled back).
    """
    hook = unproven.release_hook()
    assert hook is not None  # blocks() said so
    for holder in get_store().lock_unproven(address, pks):
        if not hook(holder, address):
            return False
        outbox.signal(signals.unproven_holder_released, user=holder, address=address, taken_by=user)
    return True


def taking_back(act: Callable[[Outbox], Taken]) -> Taken:
    """Run a revert, deny or stop (``act``) in an atomic outbox; return the change it closed.

    Once it committed, the account is taken back whatever the mail server
    says: a ``DeliveryFailed`` from the flush carries the change, so front
    ends still end the session and offer the new password (the failed
    notice is logged, and owed where ``delivery`` records it).
    """
    change: Taken | None = None
    outbox = None
    try:
        with atomic_outbox() as outbox:
            change = act(outbox)
    except DeliveryFailed as error:
        if outbox is not None and outbox.committed and change is not None:
            error.change = change
        raise
    return change
