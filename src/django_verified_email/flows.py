"""The business steps of verifying and changing an address. No HTTP here.

Both front ends (HTML views, JSON API) call these functions and map the
exceptions of ``exceptions.py`` to their own responses, so every rule lives
in one place. ``base_url`` is the scheme and host to build links with when
the ``BASE_URL`` setting is not set (the front ends pass the request's
validated host).
"""

import math
from datetime import timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import addresses, emails, signals, throttle, tokens
from .conf import app_settings
from .delivery import Outbox, _inside_callers_transaction, atomic_outbox
from .exceptions import (
    AlreadyVerified,
    DeliveryFailed,
    EmailTaken,
    ExpiredToken,
    InvalidEmail,
    InvalidToken,
    LockedOut,
    NoEmail,
    NoPendingChange,
    SameEmail,
    WrongPassword,
)
from .models import EmailChange

Status = EmailChange.Status

STEP_STATUS = {"old": Status.AWAITING_OLD, "new": Status.AWAITING_NEW}


def current_address(user):
    return getattr(user, user.get_email_field_name(), "") or ""


def _locked_user(user_id):
    return get_user_model()._default_manager.select_for_update().filter(pk=user_id).first()


def _taken_by_other(user, address):
    return addresses.users_with_address(address).exclude(pk=user.pk).exists()


def _took_address(user, address, now):
    """Give ``user`` the address, verified; False if the database refuses it.

    The lookup before it asks what the host's constraint would say, but a
    constraint it cannot read (a ``citext`` column, a case-insensitive
    collation) may fold letters otherwise: its refusal is then the answer,
    not a 500. No savepoint (two statements more on every completion): the
    caller raises at once, so the flow's transaction is rolled back, and
    nothing runs in it after the error.
    """
    field = user.get_email_field_name()
    setattr(user, field, address)
    user.mark_email_verified(now)
    try:
        user.save(update_fields=[field, "is_email_verified", "email_verified_at"])
    except IntegrityError:
        return False
    return True


def _lock_user_and_address(change_id, address_field):
    """Lock a change's user, then every open change to one address; return the change.

    Two accounts completing a change to the same address at once would each
    find it free and both take it: their user rows are different locks. So a
    completion (or a revert) also locks every open change to the address it
    is about to take, in primary-key order. The second one waits for the
    first to commit, then finds the address taken. Every flow takes its user
    row first and change rows after it, in one order, so none deadlocks; this
    holds on databases without expression indexes (MariaDB), where the host's
    case-insensitive unique constraint cannot exist.
    """
    owner = EmailChange.objects.filter(pk=change_id).values("user_id")[:1]
    user = get_user_model()._default_manager.select_for_update().filter(pk=Subquery(owner)).first()
    if user is None:
        return None
    address = EmailChange.objects.filter(pk=change_id).values(address_field)[:1]
    rows = (
        EmailChange.objects.select_for_update()
        # Lower() on both sides, not __iexact: Django 5.2 crashes on SQLite
        # when the right-hand side of __iexact is a subquery.
        .alias(new_email_lower=Lower("new_email"))
        .filter(
            Q(pk=change_id)
            | Q(status__in=EmailChange.OPEN_STATUSES, new_email_lower=Lower(Subquery(address)))
        )
        .order_by("pk")
    )
    change = next((row for row in rows if row.pk == change_id), None)
    if change is None or change.user_id != user.pk:
        return None
    change.user = user
    return change


def _read_token(read, token):
    """``read(token)``, with a malformed or forged token as ``InvalidToken``."""
    try:
        return read(token)
    except tokens.BadToken:
        raise InvalidToken from None


def _sending(user, send, *, checks_first=False):
    """Run ``send`` under the user's resend cooldown, handing it back on failure.

    The cooldown is taken before ``send`` runs, or, with ``checks_first``, by
    ``send`` itself (it gets a ``claim`` function) once its own checks under
    the database lock passed, so bad input is reported before "wait a bit".
    """
    claimed = False

    def claim():
        nonlocal claimed
        throttle.claim_send(user)
        claimed = True

    try:
        if checks_first:
            return send(claim)
        claim()
        return send()
    except Exception:
        # Nothing reached the user (refused, or the mail server failed): let
        # them try again at once. Only a cooldown this call took is handed
        # back, never one an earlier send holds.
        if claimed:
            throttle.release_send(user)
        raise


# Verify -----------------------------------------------------------------


def send_verification(user, *, base_url=None):
    """Send (or re-send) a verification link to the user's current address."""
    address = current_address(user)
    if not address:
        raise NoEmail
    if user.is_email_verified:
        raise AlreadyVerified

    def send():
        with atomic_outbox() as outbox:
            # verification_sent goes out with the message (delivery.SENT_SIGNALS).
            outbox.email(emails.VERIFY, user=user, base_url=base_url)

    _sending(user, send)


def _user_for_verify_token(token, *, lock):
    read = _read_token(tokens.read_verify_token, token)
    users = get_user_model()._default_manager
    if lock:
        users = users.select_for_update()
    user = users.filter(pk=read.payload["u"]).first()
    if (
        user is None
        or not user.is_active
        or user.is_email_verified
        or read.payload["f"] != tokens.fingerprint(user, with_verified_state=True)
    ):
        raise InvalidToken
    if read.expired:
        raise ExpiredToken
    return user


def check_verification(token):
    """The user a verification link is for, without using the link up."""
    return _user_for_verify_token(token, lock=False)


def confirm_verification(token):
    """Use a verification link: the user's current address becomes verified."""
    with atomic_outbox() as outbox:
        user = _user_for_verify_token(token, lock=True)
        user.mark_email_verified()
        user.save(update_fields=["is_email_verified", "email_verified_at"])
        outbox.signal(signals.email_verified, user=user, email=current_address(user))
    return user


# Change -----------------------------------------------------------------


def _signal_after_commit(signal, *, user, **kwargs):
    """Send a signal of a step that writes no row, still after a commit.

    Nothing is written on a wrong password, but under ``ATOMIC_REQUESTS``
    the request's transaction is open: receivers wait for it, as they do for
    every other signal of the app.
    """
    outbox = Outbox()
    outbox.signal(signal, user=user, **kwargs)
    if _inside_callers_transaction():
        transaction.on_commit(partial(outbox.flush, raise_errors=False, fresh=False), robust=True)
    else:
        outbox.flush()


def _reauthenticate(user, password):
    attempt = throttle.take_attempt(user)
    if isinstance(password, str) and user.check_password(password):
        throttle.reset_attempts(user)
        return
    _signal_after_commit(signals.reauthentication_failed, user=user, attempts=attempt)
    if attempt >= app_settings.REAUTH_MAX_ATTEMPTS:
        seconds = throttle.lock(user)
        _signal_after_commit(signals.user_locked_out, user=user, retry_after=seconds)
        raise LockedOut(retry_after=seconds)
    raise WrongPassword


def _queue_new_address_step(outbox, change, base_url, *, taken=None):
    """Send the new address its link, or its owner a notice if it is taken.

    With ``REVEAL_TAKEN_EMAIL`` off, both branches run the same query and
    queue one message to the same address, so neither the response nor the
    work done tells the requester which one ran.
    """
    if taken is None:
        taken = _taken_by_other(change.user, change.new_email)
    if taken:
        if app_settings.REVEAL_TAKEN_EMAIL:
            # Taken since the request was accepted: a conflict, not bad input.
            raise EmailTaken(status=409)
        # Looks accepted to the requester; the address's owner learns of it.
        outbox.email(emails.EMAIL_TAKEN_NOTICE, user=change.user, change=change, base_url=base_url)
    else:
        outbox.email(emails.CHANGE_CONFIRM_NEW, user=change.user, change=change, base_url=base_url)


def request_change(user, new_email, password, *, base_url=None):
    """Start a change to ``new_email``, re-authenticating with ``password``.

    A verified current address makes it the dual-link flow (``awaiting_old``);
    an unverified or empty one sends a single link to the new address
    (``awaiting_new``). Any open change of the user is superseded.
    """
    throttle.check_lockout(user)
    new_email = addresses.normalize(new_email) if isinstance(new_email, str) else ""
    if not addresses.is_valid(new_email):
        raise InvalidEmail
    _reauthenticate(user, password)
    old_email = current_address(user)
    if addresses.same_address(old_email, new_email):
        raise SameEmail

    def send(claim):
        now = timezone.now()
        with atomic_outbox() as outbox:
            locked = _locked_user_for_new_change(user.pk, new_email, now)
            # Read in the lock query whatever REVEAL_TAKEN_EMAIL says, so both
            # settings, and both answers, do exactly the same database work.
            if app_settings.REVEAL_TAKEN_EMAIL and locked.verified_email_address_taken:
                raise EmailTaken
            # The address as the lock reads it: ``user`` may have been loaded
            # before another request changed it, and the first link must go
            # to the account's address, not to the one it had.
            current = current_address(locked)
            if addresses.same_address(current, new_email):
                raise SameEmail
            claim()
            if locked.verified_email_has_open_change:
                locked.email_changes.open().update(status=Status.SUPERSEDED, closed_at=now)
            dual = locked.is_email_verified and bool(current)
            change = EmailChange.objects.create(
                user=locked,
                old_email=current,
                new_email=new_email,
                status=Status.AWAITING_OLD if dual else Status.AWAITING_NEW,
                link_generation=1,
                link_sent_at=now,
                created_at=now,
            )
            if dual:
                outbox.email(
                    emails.CHANGE_CONFIRM_OLD, user=locked, change=change, base_url=base_url
                )
            else:
                _queue_new_address_step(
                    outbox, change, base_url, taken=locked.verified_email_address_taken
                )
            outbox.signal(signals.email_change_requested, user=locked, change=change)
        return change

    return _sending(user, send, checks_first=True)


def _locked_user_for_new_change(user_id, new_email, now):
    """Lock the user row, reading what starting a change needs in the same query.

    Refuses while a recent revert locks changes: a revert means the account
    was probably taken over, and whoever did it may still know the password.
    Also read: whether another account has ``new_email``, and whether the user
    has an open change to supersede (most have none: no UPDATE then).
    """
    window = timedelta(seconds=app_settings.CHANGE_LOCK_AFTER_REVERT)
    recent_revert = (
        EmailChange.objects.filter(user_id=OuterRef("pk"), reverted_at__gt=now - window)
        .order_by("-reverted_at")
        .values("reverted_at")[:1]
    )
    user = (
        get_user_model()
        ._default_manager.select_for_update()
        .annotate(
            verified_email_reverted_at=Subquery(recent_revert),
            verified_email_address_taken=Exists(
                addresses.users_with_address(new_email).exclude(pk=OuterRef("pk"))
            ),
            verified_email_has_open_change=Exists(
                EmailChange.objects.open().filter(user_id=OuterRef("pk"))
            ),
        )
        .filter(pk=user_id)
        .first()
    )
    if user.verified_email_reverted_at is not None:
        seconds = (user.verified_email_reverted_at + window - now).total_seconds()
        raise LockedOut(
            _("Email changes are locked for a while because a recent change was undone."),
            retry_after=max(1, math.ceil(seconds)),
        )
    return user


def _change_for_token(token, *, lock):
    read = _read_token(tokens.read_change_token, token)
    payload = read.payload
    if lock and payload["s"] == "new":
        # Completing writes the user row and takes an address: lock both and
        # check the link against that locked state.
        change = _lock_user_and_address(payload["c"], "new_email")
    else:
        # Confirming the old address writes the change row alone.
        changes = EmailChange.objects.select_for_update() if lock else EmailChange.objects
        change = changes.filter(pk=payload["c"]).first()
    if (
        change is None
        or change.user is None
        or STEP_STATUS.get(payload["s"]) != change.status
        or payload["g"] != change.link_generation
        or not change.user.is_active
        or payload["f"] != tokens.fingerprint(change.user, with_verified_state=False)
    ):
        raise InvalidToken
    if read.expired:
        raise ExpiredToken
    return change, payload["s"]


def check_change(token):
    """The change and step (``"old"`` or ``"new"``) a link is for, without using it."""
    return _change_for_token(token, lock=False)


def confirm_change(token, *, base_url=None):
    """Use a change link. Returns the change: ``awaiting_new`` or ``completed``."""
    change = outbox = None
    try:
        with atomic_outbox() as outbox:
            change, step = _change_for_token(token, lock=True)
            now = timezone.now()
            if step == "old":
                change.status = Status.AWAITING_NEW
                change.old_confirmed_at = now
                change.link_generation += 1
                change.link_sent_at = now
                change.save(
                    update_fields=["status", "old_confirmed_at", "link_generation", "link_sent_at"]
                )
                _queue_new_address_step(outbox, change, base_url)
                outbox.signal(signals.email_change_old_confirmed, user=change.user, change=change)
            else:
                _complete(outbox, change, now, base_url)
    except Exception as error:
        if outbox is not None and outbox.committed and change.status == Status.COMPLETED:
            # The change is done (committed); only its notices failed (the
            # mail server, or a template that would not render), and there
            # is no step left to send again. Still a 503, as the contract
            # says of every sending endpoint, but one that says the change
            # happened and carries it, so front ends can finish.
            raise DeliveryFailed(
                _(
                    "Your email address is now %(email)s, but we could not send the "
                    "confirmation emails just now."
                )
                % {"email": change.new_email},
                change=change,
            ) from error
        raise
    return change


def _complete(outbox, change, now, base_url):
    user = change.user  # locked by _change_for_token
    # Checked again under the lock: another account may have taken the
    # address since the link was sent.
    old_email = current_address(user)
    if _taken_by_other(user, change.new_email) or not _took_address(user, change.new_email, now):
        raise EmailTaken(
            _(
                "Another account took this email address before you confirmed it. "
                "Your email address was not changed."
            ),
            status=409,
        )
    change.user = user
    change.status = Status.COMPLETED
    change.closed_at = now
    change.save(update_fields=["status", "closed_at"])
    outbox.email(emails.CHANGE_COMPLETED, user=user, change=change, base_url=base_url)
    # Only an address that proved itself hears of the change: an unverified
    # old address may be a typo that belongs to someone else.
    if app_settings.NOTIFY_OLD_EMAIL and change.old_email and change.old_confirmed_at:
        outbox.email(emails.CHANGE_NOTICE_OLD, user=user, change=change, base_url=base_url)
    outbox.signal(
        signals.email_changed,
        user=user,
        change=change,
        old_email=old_email,
        new_email=change.new_email,
    )


def pending_change(user):
    """The user's open change, or None."""
    return EmailChange.objects.open().filter(user_id=user.pk).first()


def resend_change(user, *, base_url=None):
    """Send the link of the open change's current step again (older ones stop working)."""
    if pending_change(user) is None:
        raise NoPendingChange

    def send():
        with atomic_outbox() as outbox:
            change = EmailChange.objects.open().select_for_update().filter(user_id=user.pk).first()
            if change is None:
                raise NoPendingChange
            change.link_generation += 1
            change.link_sent_at = timezone.now()
            change.save(update_fields=["link_generation", "link_sent_at"])
            if change.status == Status.AWAITING_OLD:
                outbox.email(emails.CHANGE_CONFIRM_OLD, user=user, change=change, base_url=base_url)
            else:
                _queue_new_address_step(outbox, change, base_url)
        return change

    return _sending(user, send)


def resend_verification_in_place_of(token, user, *, base_url=None):
    """Send a fresh verification link in place of an expired (or any) one.

    For the expired-link page's button: the old link is posted back, and only
    the user it was sent to may swap it for a new one, so the request needs no
    CSRF token (browsers send "Origin: null" from no-referrer token pages).
    """
    if not tokens.same_id(_read_token(tokens.read_verify_token, token).payload["u"], user.pk):
        raise InvalidToken
    send_verification(user, base_url=base_url)


def resend_change_in_place_of(token, user, *, base_url=None):
    """Send the open change's current link again, in place of an expired one."""
    change_id = _read_token(tokens.read_change_token, token).payload["c"]
    if not EmailChange.objects.filter(pk=change_id, user_id=user.pk).exists():
        raise InvalidToken
    return resend_change(user, base_url=base_url)


def cancel_change(user):
    """Cancel the open change; its links stop working."""
    with atomic_outbox() as outbox:
        change = EmailChange.objects.open().select_for_update().filter(user_id=user.pk).first()
        if change is None:
            raise NoPendingChange
        change.status = Status.CANCELLED
        change.closed_at = timezone.now()
        change.save(update_fields=["status", "closed_at"])
        outbox.signal(signals.email_change_cancelled, user=user, change=change)
    return change


# Revert ("this wasn't me") ------------------------------------------------


def _change_for_revert_token(token, *, lock):
    read = _read_token(tokens.read_revert_token, token)
    change_id = read.payload["c"]
    if lock:
        # Taking the old address back is taking an address: the same locks as
        # a completion, so a revert and another account's change to that
        # address cannot both win.
        change = _lock_user_and_address(change_id, "old_email")
    else:
        change = EmailChange.objects.select_related("user").filter(pk=change_id).first()
    if (
        change is None
        # As strings: the payload holds what JSON made of the user's key.
        or str(change.user_id) != str(read.payload["u"])
        or change.status != Status.COMPLETED
        or change.reverted_at is not None
        or not change.old_email
        or not change.user.is_active
        or not _address_still_set_by_changes_since(change)
    ):
        raise InvalidToken
    if read.expired:
        raise ExpiredToken(
            _(
                "This link has expired: a change can only be undone for a limited time. "
                "Please contact support."
            )
        )
    return change


def _changes_since(change):
    """The completed, not undone, changes of the user from ``change`` on."""
    return EmailChange.objects.filter(
        user_id=change.user_id,
        status=Status.COMPLETED,
        pk__gte=change.pk,
        reverted_at__isnull=True,
    )


def _address_still_set_by_changes_since(change):
    """Whether the account's address is the one this flow last gave it.

    Later changes made through the flows do not void the way back: whoever
    took an account over could otherwise change the address once more, to
    send the next notice to a mailbox of theirs, and so kill the real owner's
    link. An address set outside the app does: the link no longer describes
    the account.
    """
    latest = _changes_since(change).order_by("-pk").first()
    return latest is not None and addresses.same_address(
        current_address(change.user), latest.new_email
    )


def check_revert(token):
    """The completed change a "this wasn't me" link would undo, without using it."""
    return _change_for_revert_token(token, lock=False)


def revert_change(token):
    """Use a "this wasn't me" link: put the old address back and lock changes.

    The old address becomes the account's address again, verified (it proved
    itself when the change was confirmed). Any open change is cancelled, and
    new changes are refused for ``CHANGE_LOCK_AFTER_REVERT`` seconds.
    """
    with atomic_outbox() as outbox:
        change = _change_for_revert_token(token, lock=True)
        user = change.user
        now = timezone.now()
        discarded = current_address(user)
        if _taken_by_other(user, change.old_email) or not _took_address(
            user, change.old_email, now
        ):
            raise EmailTaken(
                _(
                    "Your old email address now belongs to another account, so the change "
                    "cannot be undone here. Please contact support."
                ),
                status=409,
            )
        user.email_changes.open().update(status=Status.CANCELLED, closed_at=now)
        # This change and every later one are undone: their own revert links
        # (the later ones went to addresses the taker may control) die too.
        _changes_since(change).update(reverted_at=now)
        change.reverted_at = now
        outbox.signal(
            signals.email_change_reverted,
            user=user,
            change=change,
            restored_email=change.old_email,
            discarded_email=discarded,
        )
    return change
