"""The business steps of verifying and changing an address. No HTTP here.

Both front ends (HTML views, JSON API) call these functions and map the
exceptions of ``exceptions.py`` to their own responses, so every rule lives
in one place. ``base_url`` is the scheme and host to build links with when
the ``BASE_URL`` setting is not set (the front ends pass the request's
validated host).
"""

from django.contrib.auth import get_user_model
from django.utils import timezone

from . import addresses, emails, signals, throttle, tokens
from .conf import app_settings
from .delivery import atomic_outbox
from .exceptions import (
    AlreadyVerified,
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


def _sending(user, send):
    """Run ``send`` under the user's resend cooldown, handing it back on failure."""
    throttle.claim_send(user)
    try:
        return send()
    except Exception:
        # Nothing reached the user (refused, or the mail server failed): let
        # them try again at once.
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
            outbox.email(
                emails.VERIFY,
                user=user,
                base_url=base_url,
                on_sent=(signals.verification_sent, {"email": address}),
            )

    _sending(user, send)


def _user_for_verify_token(token, *, lock):
    try:
        read = tokens.read_verify_token(token)
    except tokens.BadToken:
        raise InvalidToken from None
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


def _reauthenticate(user, password):
    attempt = throttle.take_attempt(user)
    if isinstance(password, str) and user.check_password(password):
        throttle.reset_attempts(user)
        return
    signals.reauthentication_failed.send(sender=get_user_model(), user=user, attempts=attempt)
    if attempt >= app_settings.REAUTH_MAX_ATTEMPTS:
        seconds = throttle.lock(user)
        signals.user_locked_out.send(sender=get_user_model(), user=user, retry_after=seconds)
        raise LockedOut(retry_after=seconds)
    raise WrongPassword


def _queue_new_address_step(outbox, change, base_url):
    """Send the new address its link, or its owner a notice if it is taken."""
    if _taken_by_other(change.user, change.new_email):
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
    if app_settings.REVEAL_TAKEN_EMAIL and _taken_by_other(user, new_email):
        raise EmailTaken

    def send():
        now = timezone.now()
        with atomic_outbox() as outbox:
            locked = _locked_user(user.pk)
            locked.email_changes.open().update(status=Status.SUPERSEDED, closed_at=now)
            dual = locked.is_email_verified and bool(old_email)
            change = EmailChange.objects.create(
                user=locked,
                old_email=old_email,
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
                _queue_new_address_step(outbox, change, base_url)
            outbox.signal(signals.email_change_requested, user=locked, change=change)
        return change

    return _sending(user, send)


def _change_for_token(token, *, lock):
    try:
        read = tokens.read_change_token(token)
    except tokens.BadToken:
        raise InvalidToken from None
    payload = read.payload
    # Lock the change row alone: FOR UPDATE OF is not on every backend.
    changes = EmailChange.objects.select_for_update() if lock else EmailChange.objects
    change = changes.filter(pk=payload["c"]).first()
    if (
        change is None
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
    return change


def _complete(outbox, change, now, base_url):
    user = _locked_user(change.user_id)
    # Checked again under the lock: another account may have taken the
    # address since the link was sent.
    if _taken_by_other(user, change.new_email):
        raise EmailTaken(status=409)
    old_email = current_address(user)
    setattr(user, user.get_email_field_name(), change.new_email)
    user.mark_email_verified(now)
    user.save(update_fields=[user.get_email_field_name(), "is_email_verified", "email_verified_at"])
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
            change = (
                EmailChange.objects.open().select_for_update().filter(user_id=user.pk).first()
            )
            if change is None:
                raise NoPendingChange
            change.link_generation += 1
            change.link_sent_at = timezone.now()
            change.save(update_fields=["link_generation", "link_sent_at"])
            if change.status == Status.AWAITING_OLD:
                outbox.email(
                    emails.CHANGE_CONFIRM_OLD, user=user, change=change, base_url=base_url
                )
            else:
                _queue_new_address_step(outbox, change, base_url)
        return change

    return _sending(user, send)


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
