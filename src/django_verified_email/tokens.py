"""One-time link tokens: signing and reading, nothing else.

A token is an itsdangerous timed signature over a tiny JSON payload. It says
which user or change it is for and carries a fingerprint of the state it was
issued against (the address, the password hash, the link generation), so it
stops working once that state moves on: that is what makes a link one-time.

Two verbs per kind of link: ``make_<kind>_token`` signs one, ``read_<kind>_token``
checks its signature and hands back a small frozen dataclass (``VerifyLink``,
``ChangeLink``, ``RevertLink``, ``SetPasswordLink``). Whether the link still fits the database is
for the flows to say (``flows.links``). This is the only module that knows the payload layout;
``Step`` names the two steps of a change as its links carry them.

Keys come from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``: rotating the key
keeps links that were signed with a fallback alive until they expire.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from django.conf import settings
from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .addresses import comparable, of_user
from .conf import app_settings
from .stores import get_store

if TYPE_CHECKING:
    from .models import EmailChange

VERIFY_SALT = "django_verified_email.verify"
CHANGE_SALT = "django_verified_email.change"
REVERT_SALT = "django_verified_email.revert"
SET_PASSWORD_SALT = "django_verified_email.set_password"
STOP_SALT = "django_verified_email.stop"
KEEP_SALT = "django_verified_email.keep"

# A "stop this change" link lives as long as its recovery is pending, which
# the flow checks on the row; this only keeps an ancient token from being
# read at all.
STOP_MAX_AGE = 366 * 86400  # seconds: a year

# Real tokens are about 120 characters; refuse anything far longer unread.
MAX_TOKEN_LENGTH = 1024

# How far ahead of this machine's clock another (a worker, a second web
# server) may have signed a link. itsdangerous calls a signature from the
# future expired; a link signed by a machine whose clock runs a little fast
# would answer 410 the moment it arrives.
CLOCK_SKEW = 60  # seconds

#: A primary key as JSON carries it (see ``portable_id``).
PortableId = int | str


class Step(str, enum.Enum):
    """The two steps of a change, by the address each link goes to.

    A ``str`` equal to its value (``"old"``, ``"new"``), and written as it
    (``enum.StrEnum`` is Python 3.11+): what change links, templates and
    API answers have always carried, so nothing signed or stored changes.
    """

    OLD = "old"
    NEW = "new"

    def __str__(self) -> str:
        return self.value


class Secret:
    """A link or a code held in a variable: ``str()`` gives it, ``repr()`` hides it.

    Error trackers (Sentry's default) record the local variables of every
    frame an error passed through, with ``repr()``, and so does
    ``traceback.TracebackException(capture_locals=True)``: a live link or
    code in a plain string there is a working link in the report. Held as a
    ``Secret`` (and inside dicts, whose ``repr`` is their values'), it shows
    as ``Secret('[hidden]')``. Templates render it with ``str()``, so it
    prints as the value. Not a ``str`` subclass on purpose: trackers copy the
    text of strings, whatever their class.
    """

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = str(value)

    @classmethod
    def of(cls, value: object) -> Secret | None:
        """Return ``value`` as a ``Secret``; None stays None."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('[hidden]')"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    # A base URL joined to a link's path, or a query added in a template
    # (the ``add`` filter), stays hidden.
    def __add__(self, other: object) -> Secret:
        return Secret(self._value + str(other))

    def __radd__(self, other: object) -> Secret:
        return Secret(str(other) + self._value)


class BadToken(Exception):
    """The token is malformed, tampered with, or signed with an unknown key."""


@dataclass(frozen=True)
class VerifyLink:
    """What a verification link says: the user, and the state it was sent against."""

    user_id: PortableId
    fingerprint: str
    #: Genuine, but older than ``LINK_MAX_AGE``.
    expired: bool = False


@dataclass(frozen=True)
class ChangeLink:
    """What a change link says: the change, its ``Step``, the generation."""

    change_id: int
    step: Step
    generation: int
    fingerprint: str
    #: Genuine, but older than ``LINK_MAX_AGE``.
    expired: bool = False


@dataclass(frozen=True)
class RevertLink:
    """What a "this wasn't me" link says: the completed change and its user."""

    change_id: int
    user_id: PortableId
    #: Genuine, but older than ``REVERT_MAX_AGE``.
    expired: bool = False


@dataclass(frozen=True)
class SetPasswordLink:
    """What a "set a new password" link says: the user, and the state it was sent against."""

    user_id: PortableId
    fingerprint: str
    #: Genuine, but older than ``LINK_MAX_AGE``.
    expired: bool = False


@dataclass(frozen=True)
class StopLink:
    """What a "stop this change" link says: the recovery and its user."""

    change_id: int
    user_id: PortableId
    #: Genuine, but older than ``STOP_MAX_AGE``.
    expired: bool = False


@dataclass(frozen=True)
class KeepLink:
    """What a "keep the change" link says: the change, its user, and which scheduled revert."""

    change_id: int
    user_id: PortableId
    #: ``revert_scheduled_at`` as a timestamp: a later scheduling needs its own link.
    scheduled: float
    #: Genuine, but older than ``RECOVERY_DELAY``.
    expired: bool = False


def _serializer(salt: str) -> URLSafeTimedSerializer:
    # itsdangerous signs with the last key and verifies with any of them.
    keys = [*getattr(settings, "SECRET_KEY_FALLBACKS", []), settings.SECRET_KEY]
    return URLSafeTimedSerializer(keys, salt=salt)


def fingerprint(user: Any, *, with_verified_state: bool) -> str:
    """Return a short digest of the user state a link was issued against.

    A link carries it, and a flow compares it with the user as the database
    holds them now; any piece that changed kills the link:

    * the primary key: a link never opens another account;
    * the address, compared as one mailbox however it is spelt: a link sent
      to an address the account no longer has is void;
    * the password hash: a new password (a reset after a suspected takeover)
      voids every link sent before it;
    * the account's security counter (``AddressStore``): it moves on every address
      change (by any path), completion, revert and deny, and never back, so a
      link that went stale once stays dead even when the address returns to
      what it was (A to B to A would otherwise bring an old link back);
    * with ``with_verified_state`` (verification links only), the verified
      flag and its date: a used verification link, or one sent before the
      address was verified another way, is void.

    A change link adds the change's status and link generation (checked by the
    flow on the row), so a resend, a completion or a cancel kills it too.
    """
    store = get_store()
    parts = [
        str(user.pk),
        comparable(of_user(user)),
        user.password or "",
        str(store.security_counter(user)),
    ]
    if with_verified_state:
        when = store.verified_at(user)
        parts += [str(store.is_verified(user)), when.isoformat() if when else ""]
    # The password hash is already salted and slow; hashing it again here only
    # keeps it out of the (readable, though signed) token payload.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def portable_id(pk: Any) -> PortableId:
    """Return a primary key as JSON carries it: an integer as it is, any other (a UUID) as text.

    Token payloads and task arguments are JSON. Compare what comes back with
    ``same_id``: a text id is no longer equal to the key it was made from.
    """
    if isinstance(pk, int) and not isinstance(pk, bool):
        return pk
    return str(pk)


def same_id(carried: Any, pk: Any) -> bool:
    """Return whether an id read back from a token or a task is the primary key ``pk``."""
    return str(carried) == str(pk)


# The payloads, signed and timestamped by itsdangerous. One-letter keys keep
# links short; links already sent must keep working, so a key is never
# renamed or reused for something else:
#
#   verify  {"u": user id (portable_id), "f": fingerprint with the verified state}
#   change  {"c": change id, "s": step "old" or "new", "g": link generation,
#            "f": fingerprint without the verified state}
#   revert  {"c": change id, "u": user id (portable_id)}
#   set-password  {"u": user id (portable_id), "f": fingerprint without the
#            verified state}
#   stop    {"c": change id, "u": user id (portable_id)}


def make_verify_token(user: Any) -> str:
    """Sign a verification link for the user's current address.

    Dies when the address is verified (by this link or otherwise), when the
    address or the password changes, and after ``LINK_MAX_AGE``.
    """
    return _serializer(VERIFY_SALT).dumps(
        {"u": portable_id(user.pk), "f": fingerprint(user, with_verified_state=True)}
    )


def read_verify_token(token: object) -> VerifyLink:
    """Return what a verification link says, or raise ``BadToken``."""
    payload, expired = _read(token, VERIFY_SALT, {"u", "f"})
    return VerifyLink(user_id=payload["u"], fingerprint=payload["f"], expired=expired)


def make_change_token(change: EmailChange, step: Step) -> str:
    """Sign the link of one ``Step`` of a pending change.

    Dies when the step is done or the change closes (its status moves on),
    when a newer link of the change is sent (the generation moves on), when
    the user's address or password changes, and after ``LINK_MAX_AGE``.
    """
    return _serializer(CHANGE_SALT).dumps(
        {
            "c": change.pk,
            "s": Step(step).value,
            "g": change.link_generation,
            "f": fingerprint(change.user, with_verified_state=False),
        }
    )


def read_change_token(token: object) -> ChangeLink:
    """Return what a change link says, or raise ``BadToken``."""
    payload, expired = _read(token, CHANGE_SALT, {"c", "s", "g", "f"})
    if payload["s"] not in [step.value for step in Step]:
        raise BadToken
    return ChangeLink(
        change_id=payload["c"],
        step=Step(payload["s"]),
        generation=payload["g"],
        fingerprint=payload["f"],
        expired=expired,
    )


def make_revert_token(change: EmailChange) -> str:
    """Sign the "this wasn't me" link of a completed change.

    Not tied to the password nor to ``email_security_counter``: whoever took
    the account over may change the password, or the address again through
    the flows (each move bumps the counter), and the way back must still
    work. It dies when it is used (the change
    is reverted), when the account's address is no longer the one the flows
    last set, and after ``REVERT_MAX_AGE``.
    """
    return _serializer(REVERT_SALT).dumps({"c": change.pk, "u": portable_id(change.user_id)})


def read_revert_token(token: object) -> RevertLink:
    """Return what a "this wasn't me" link says, or raise ``BadToken``."""
    payload, expired = _read(token, REVERT_SALT, {"c", "u"}, max_age=app_settings.REVERT_MAX_AGE)
    return RevertLink(change_id=payload["c"], user_id=payload["u"], expired=expired)


def make_set_password_token(user: Any) -> str:
    """Sign the one-time "set a new password" link given after a revert or a deny.

    The revert or deny link proved the mailbox; this one lets its owner set
    the password that the revert or deny just retired. It dies once a
    password is set (the hash in its fingerprint changes; an unusable
    password is a new random hash each time), when the address or
    ``email_security_counter`` moves, and after ``LINK_MAX_AGE``.
    """
    return _serializer(SET_PASSWORD_SALT).dumps(
        {"u": portable_id(user.pk), "f": fingerprint(user, with_verified_state=False)}
    )


def read_set_password_token(token: object) -> SetPasswordLink:
    """Return what a "set a new password" link says, or raise ``BadToken``."""
    payload, expired = _read(token, SET_PASSWORD_SALT, {"u", "f"})
    return SetPasswordLink(user_id=payload["u"], fingerprint=payload["f"], expired=expired)


def make_stop_token(change: EmailChange) -> str:
    """Sign the "stop this change" link of a recovery, for its old address.

    Not tied to the password: whoever asked for the recovery knows it, and
    could otherwise change it to kill the owner's way to stop them. It dies
    when the recovery is no longer pending (stopped, cancelled, superseded,
    completed) and when the account's address is no longer the old one;
    the flow checks both on the row.
    """
    return _serializer(STOP_SALT).dumps({"c": change.pk, "u": portable_id(change.user_id)})


def read_stop_token(token: object) -> StopLink:
    """Return what a "stop this change" link says, or raise ``BadToken``."""
    payload, expired = _read(token, STOP_SALT, {"c", "u"}, max_age=STOP_MAX_AGE)
    return StopLink(change_id=payload["c"], user_id=payload["u"], expired=expired)


def make_keep_token(change: EmailChange) -> str:
    """Sign the "keep the change" link the new address gets when a revert is scheduled.

    One-time: it works while that scheduled revert waits (the change still
    completed, not reverted, scheduled at the same time), for at most
    ``RECOVERY_DELAY``.
    """
    assert change.revert_scheduled_at is not None
    return _serializer(KEEP_SALT).dumps(
        {
            "c": change.pk,
            "u": portable_id(change.user_id),
            "s": change.revert_scheduled_at.timestamp(),
        }
    )


def read_keep_token(token: object) -> KeepLink:
    """Return what a "keep the change" link says, or raise ``BadToken``."""
    max_age = app_settings.RECOVERY_DELAY or app_settings.LINK_MAX_AGE
    payload, expired = _read(token, KEEP_SALT, {"c", "u", "s"}, max_age=max_age)
    if not isinstance(payload["s"], (int, float)):
        raise BadToken
    return KeepLink(
        change_id=payload["c"], user_id=payload["u"], scheduled=payload["s"], expired=expired
    )


def _is_canonical(token: str) -> bool:
    """Return whether the signature is spelt the one way itsdangerous writes it.

    The last base64 character of a signature carries unused bits: several
    spellings decode to the same bytes and would all verify. Only the one we
    sent is accepted, so a changed link never works.
    """
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except (BadData, UnicodeError):
        return False


def _signed_slightly_ahead(error: SignatureExpired) -> bool:
    """Return whether an "expired" signature is in fact at most ``CLOCK_SKEW`` in the future."""
    signed = error.date_signed
    if signed is None:
        return False
    ahead = (signed - datetime.now(timezone.utc)).total_seconds()
    return 0 < ahead <= CLOCK_SKEW


def _read(
    token: object, salt: str, required_keys: set[str], max_age: int | None = None
) -> tuple[dict[str, Any], bool]:
    """Return a genuine token's payload and whether it expired, or raise ``BadToken``."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken
    if not _is_canonical(token):
        raise BadToken
    serializer = _serializer(salt)
    expired = False
    try:
        payload = serializer.loads(token, max_age=max_age or app_settings.LINK_MAX_AGE)
    except SignatureExpired as exc:
        # The signature is genuine but old: read it anyway so the caller can
        # tell "expired" (410, offer a new link) from "invalid" (400).
        expired = not _signed_slightly_ahead(exc)
        try:
            payload = serializer.loads(token)
        except BadSignature as exc:
            raise BadToken from exc
    except (BadSignature, UnicodeDecodeError, ValueError) as exc:
        raise BadToken from exc
    if not isinstance(payload, dict) or not required_keys <= payload.keys():
        raise BadToken
    return payload, expired
