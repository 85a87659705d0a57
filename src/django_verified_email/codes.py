"""One-time codes: making, storing and checking the short twin of each emailed link.

Every message that carries the link of a step also carries a code for the
same step (``issue``, called while the message is built). Typing the code
does what the link does (``flows.codes``: ``use`` checks it), but only for a
request authenticated as the account the code was sent for: a code is short
enough to guess, a link is not.

What is stored (``OneTimeCode``, one row per user and purpose) is never the
code: an HMAC-SHA256 keyed from ``SECRET_KEY`` over the code and what it was
sent for, so a copy of the database gives no code. The hash covers:

* the purpose (``"verify"``, ``"change_old"``, ``"change_new"``...): a code
  never confirms another step;
* the user's primary key, and the fingerprint links carry (address and
  password hash; with the verified state for ``"verify"``): a code sent
  before the address or password changed is void, as its link is.

The row also keeps the change and link generation a change step's code was
sent with: a resend, a newer request or the step's link moves them on, and
the code dies with its link.

A code dies when it is used, when a newer one of its purpose is sent (the
row is overwritten), after ``CODE_MAX_AGE``, after ``CODE_MAX_ATTEMPTS``
wrong tries, and once the step it was sent for is done. Wrong tries are also
counted per account over any 24 hours (``WrongCode``): past
``CODE_MAX_ATTEMPTS_PER_DAY`` no code is even compared, which is what bounds
guessing however many codes a resend produces (docs/security.md).

The plaintext exists only while its message is built and sent: at send time,
in the worker in the task modes, so it never travels in task arguments or
through the broker.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from . import reauth_methods, tokens
from .conf import app_settings
from .exceptions import ExpiredCode, InvalidCode, VerifiedEmailError
from .models import EmailChange, OneTimeCode, VerifiedUser, WrongCode, write_database
from .stores import get_store

logger = logging.getLogger("django_verified_email")

#: Purposes: the step a code is for.
VERIFY = "verify"
CHANGE_OLD = "change_old"
CHANGE_NEW = "change_new"

#: Digits only: easy to read aloud, and a phone shows its number pad.
LENGTH = 6
GROUP = 3  # shown as 123-456
SPACE = 10**LENGTH
#: What may sit between the digits as typed: spaces, dashes, dots.
SEPARATORS = frozenset(" -_.\u2010\u2011\u2012\u2013\u2014\u2212")
#: Longer input is refused unread.
MAX_INPUT_LENGTH = 64
#: The span of the per-account limit.
DAY = timedelta(days=1)

KEY_SALT = "django_verified_email.codes"

#: The new address's step of a recovery (the old mailbox is lost): a purpose
#: of its own, so no code of an ordinary change's step ever confirms one.
RECOVERY_NEW = "recovery_new"

#: Re-authenticating before a change, for a user without a usable password
#: (a social login): sent to the verified address the account has now.
REAUTH = "reauth"

TOO_MANY_TRIES = _(
    "Too many wrong codes: this one no longer works. Ask for a new one, or use the link "
    "in the email."
)
TOO_MANY_TODAY = _("Too many wrong codes today. Use the link in the email instead.")


def generate() -> str:
    """Return a new code: ``LENGTH`` random digits."""
    return f"{secrets.randbelow(SPACE):0{LENGTH}d}"


def display(code: str) -> str:
    """Return a code as emails show it: ``123-456``."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalize(typed: object) -> str | None:
    """Return the digits of a code as typed, or None if it cannot be one.

    Spaces and dashes anywhere are dropped, and any script's digits are
    read (a Nepali keyboard types Devanagari digits), so ``123-456``,
    ``123 456`` and the same digits in Devanagari are one code.
    """
    if not isinstance(typed, str) or len(typed) > MAX_INPUT_LENGTH:
        return None
    digits = []
    for character in typed:
        if character.isspace() or character in SEPARATORS:
            continue
        value = unicodedata.decimal(character, None)
        if value is None:
            return None
        digits.append(str(value))
    code = "".join(digits)
    return code if len(code) == LENGTH else None


def _message(purpose: str, user: VerifiedUser, code: str) -> str:
    verify = purpose == VERIFY
    return "\x1f".join(
        [purpose, str(user.pk), tokens.fingerprint(user, with_verified_state=verify), code]
    )


def _digest(message: str, secret: str) -> str:
    return salted_hmac(KEY_SALT, message, secret=secret, algorithm="sha256").hexdigest()


def _matches(digest: str, message: str) -> bool:
    # Stored with SECRET_KEY; a code sent before a key rotation still works
    # through SECRET_KEY_FALLBACKS until it expires, as links do.
    secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(constant_time_compare(digest, _digest(message, secret)) for secret in secrets_)


def may_reauthenticate_by_code(user: VerifiedUser) -> bool:
    """Return whether ``user`` re-authenticates with a code (``REAUTH``) instead of a password.

    A user without a usable password, whose current address is verified: a
    code to an unproved address proves nothing about the account's owner.
    And only while the host allows it (``reauth_methods``).
    """
    return (
        not user.has_usable_password()
        and reauth_methods.CODE in reauth_methods.passwordless_methods(user)
        and get_store().is_verified(user)
        and bool(get_store().address(user))
    )


def _still_waiting(purpose: str, user: VerifiedUser, change: EmailChange | None) -> bool:
    """Lock the state a message was built from, and return whether it still holds.

    A worker may build a message late: once its step is done, superseded or
    sent again, its code must not overwrite the one that now counts.
    """
    if purpose == REAUTH:
        locked = get_store().lock_user(user.pk)
        return (
            locked is not None
            and locked.is_active
            and may_reauthenticate_by_code(locked)
            and tokens.fingerprint(locked, with_verified_state=False)
            == tokens.fingerprint(user, with_verified_state=False)
        )
    if change is None:
        locked = get_store().lock_user(user.pk)
        return not (
            locked is None
            or not locked.is_active
            or get_store().is_verified(locked)
            or tokens.fingerprint(locked, with_verified_state=True)
            != tokens.fingerprint(user, with_verified_state=True)
        )
    # The user's row first, then the change's: the lock order of every flow
    # (``lock_user``). Storing the code takes a key share on the user's row
    # anyway (its foreign key); taken after the change's row, it would
    # deadlock with a new request, which holds the user's row and waits for
    # this change's to supersede it.
    if get_store().lock_user(user.pk) is None:
        return False
    return (
        EmailChange.objects.select_for_update()
        .filter(pk=change.pk, status=change.status, link_generation=change.link_generation)
        .values_list("pk", flat=True)
        .first()
    ) is not None


def issue(
    purpose: str,
    user: VerifiedUser,
    *,
    change: EmailChange | None = None,
    locked: bool = False,
) -> str | None:
    """Make the code of a message being built, store its hash, and return it for display.

    The new hash replaces the previous code of ``purpose``. Returns None, and
    stores nothing, when the step is no longer waiting: the message is not
    due any more. ``change`` is the change whose step it is (none for verify).
    ``locked``: called in a flow's transaction that holds the user's row and
    created or locked the change's, then saved it (``emails.issue_code``):
    the step waits as ``change`` says, and is not checked again.
    """
    code = generate()
    # No savepoint inside a flow's transaction (``Outbox.prepare``): a
    # failure here fails the flow's transaction anyway.
    with transaction.atomic(using=write_database(user), savepoint=False):
        if not (locked and change is not None) and not _still_waiting(purpose, user, change):
            logger.debug("No code: the %s step is no longer waiting", purpose)
            return None
        _store(purpose, user, change, _digest(_message(purpose, user, code), settings.SECRET_KEY))
    return display(code)


def _store(purpose: str, user: VerifiedUser, change: EmailChange | None, digest: str) -> None:
    """Write ``digest`` as the live code of ``purpose``; the one it replaces stays known.

    Called with the user's row locked (every issuer takes it first), so no
    other code of the user is written between the update and the insert.
    """
    fields = {
        "change_pk": change.pk if change is not None else None,
        "link_generation": change.link_generation if change is not None else 0,
        "digest": digest,
        "created_at": timezone.now(),
        "failures": 0,
    }
    # ``replaced_digest`` first: MySQL and MariaDB assign left to right, and
    # must copy the old digest before it is overwritten (every other database
    # reads the old row whatever the order).
    replaced = OneTimeCode.objects.filter(user_id=user.pk, purpose=purpose).update(
        replaced_digest=F("digest"), **fields
    )
    if not replaced:
        OneTimeCode.objects.create(user_id=user.pk, purpose=purpose, replaced_digest="", **fields)


def use(
    purpose: str, user: VerifiedUser, typed: object, *, change: EmailChange | None = None
) -> VerifiedEmailError | None:
    """Check a typed code against the live one of ``purpose``, and use it up if it matches.

    Run in the transaction of the step, with the user's row locked (that
    lock orders the tries of one account). Returns None on success, or the
    error to raise once that transaction commits: a wrong try must stay
    counted, so it is returned, not raised.
    """
    now = timezone.now()
    row = OneTimeCode.objects.select_for_update().filter(user_id=user.pk, purpose=purpose).first()
    if row is None or not row.digest:
        logger.debug("Refused a code: none live for %s (never sent, used or used up)", purpose)
        return ExpiredCode()
    if change is not None and (
        row.change_pk != change.pk or row.link_generation != change.link_generation
    ):
        logger.debug("Refused a code: replaced (a newer link or request)")
        return ExpiredCode()
    if row.created_at <= _sent_before_live(now):
        logger.debug("Refused a code: older than CODE_MAX_AGE")
        return ExpiredCode()
    code = normalize(typed)
    if code is None:
        # Not a guess at all: not counted.
        logger.debug("Refused a code: not %s digits", LENGTH)
        return InvalidCode()
    recent = WrongCode.objects.using(write_database(user)).filter(
        user_id=user.pk, failed_at__gt=now - DAY
    )
    if recent.count() >= app_settings.CODE_MAX_ATTEMPTS_PER_DAY:
        logger.debug("Refused a code: the account's wrong tries for the day are used up")
        return ExpiredCode(TOO_MANY_TODAY)
    message = _message(purpose, user, code)
    if _matches(row.digest, message):
        # Kept as replaced: typed again while a later step waits, it reads
        # as used (410), not as a wrong try at that step's code.
        row.replaced_digest = row.digest
        row.digest = ""
        row.save(update_fields=["digest", "replaced_digest"])
        return None
    if row.replaced_digest and _matches(row.replaced_digest, message):
        # The user's own older code, not a guess: not counted.
        logger.debug("Refused a code: replaced by a newer one")
        return ExpiredCode()
    if _is_code_of_the_step_before(purpose, user, code, change):
        # The old address's code, typed after its step was done (by its link
        # or its code): used, not wrong, and no try of the new code spent.
        logger.debug("Refused a code: its step is done")
        return ExpiredCode()
    old_wrong_tries(now).filter(user_id=user.pk).delete()
    WrongCode.objects.create(user_id=user.pk, failed_at=now)
    row.failures += 1
    if row.failures >= app_settings.CODE_MAX_ATTEMPTS:
        logger.debug("Refused a code: wrong, and the code's tries are used up")
        row.digest = ""
        row.save(update_fields=["failures", "digest"])
        return ExpiredCode(TOO_MANY_TRIES)
    logger.debug("Refused a code: wrong")
    row.save(update_fields=["failures"])
    return InvalidCode()


def _sent_before_live(now: datetime) -> datetime:
    """Return the time a code must have been sent after to still work at ``now``."""
    return now - timedelta(seconds=app_settings.CODE_MAX_AGE)


def dead_codes(now: datetime) -> QuerySet[OneTimeCode]:
    """The code rows no try can use any more: used, used up, or past ``CODE_MAX_AGE``.

    Deleting one changes no answer: a missing row refuses a code as
    ``expired_code`` too. Rows of a change still pending stay: the old
    address's code, used, is what tells it from a wrong try at the new
    address's (``_is_code_of_the_step_before``). For ``verified_email_purge``.
    """
    return OneTimeCode.objects.filter(
        Q(digest="") | Q(created_at__lte=_sent_before_live(now))
    ).exclude(change_pk__in=EmailChange.objects.pending().values("pk"))


def old_wrong_tries(now: datetime) -> QuerySet[WrongCode]:
    """The wrong tries the per-day limit no longer counts (a day old or more)."""
    return WrongCode.objects.filter(failed_at__lte=now - DAY)


def _is_code_of_the_step_before(
    purpose: str, user: VerifiedUser, code: str, change: EmailChange | None
) -> bool:
    """Return whether ``code`` is the old address's code of the change now awaiting the new one."""
    if purpose != CHANGE_NEW or change is None:
        return False
    before = OneTimeCode.objects.filter(
        user_id=user.pk, purpose=CHANGE_OLD, change_pk=change.pk
    ).first()
    if before is None:
        return False
    message = _message(CHANGE_OLD, user, code)
    return any(
        digest and _matches(digest, message) for digest in (before.digest, before.replaced_digest)
    )


__all__ = [
    "CHANGE_NEW",
    "CHANGE_OLD",
    "REAUTH",
    "RECOVERY_NEW",
    "SPACE",
    "VERIFY",
    "dead_codes",
    "display",
    "generate",
    "issue",
    "may_reauthenticate_by_code",
    "normalize",
    "old_wrong_tries",
    "use",
]
