"""One-time link tokens: signing and reading, nothing else.

A token is an itsdangerous timed signature over a tiny payload. It says which
user or change it is for and carries a fingerprint of the state it was issued
against (the address, the password hash, the link generation), so it stops
working once that state moves on: that is what makes a link one-time.

Keys come from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``: rotating the key
keeps links that were signed with a fallback alive until they expire.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from .addresses import comparable
from .conf import app_settings

VERIFY_SALT = "django_verified_email.verify"
CHANGE_SALT = "django_verified_email.change"
REVERT_SALT = "django_verified_email.revert"

# Real tokens are about 120 characters; refuse anything far longer unread.
MAX_TOKEN_LENGTH = 1024


class BadToken(Exception):
    """The token is malformed, tampered with, or signed with an unknown key."""


@dataclass(frozen=True)
class ReadToken:
    payload: dict
    expired: bool


def _serializer(salt):
    # itsdangerous signs with the last key and verifies with any of them.
    keys = [*getattr(settings, "SECRET_KEY_FALLBACKS", []), settings.SECRET_KEY]
    return URLSafeTimedSerializer(keys, salt=salt)


def fingerprint(user, *, with_verified_state):
    """A short digest of the user state a link was issued against."""
    email = getattr(user, user.get_email_field_name(), "") or ""
    parts = [str(user.pk), comparable(email), user.password or ""]
    if with_verified_state:
        verified_at = user.email_verified_at.isoformat() if user.email_verified_at else ""
        parts += [str(bool(user.is_email_verified)), verified_at]
    # The password hash is already salted and slow; hashing it again here only
    # keeps it out of the (readable, though signed) token payload.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def portable_id(pk):
    """A primary key as JSON carries it: an integer as it is, any other (a UUID) as text.

    Token payloads and task arguments are JSON. Compare what comes back with
    ``same_id``: a text id is no longer equal to the key it was made from.
    """
    if isinstance(pk, int) and not isinstance(pk, bool):
        return pk
    return str(pk)


def same_id(carried, pk):
    """Whether an id read back from a token or a task is the primary key ``pk``."""
    return str(carried) == str(pk)


def make_verify_token(user):
    return _serializer(VERIFY_SALT).dumps(
        {"u": portable_id(user.pk), "f": fingerprint(user, with_verified_state=True)}
    )


def make_change_token(change, step):
    return _serializer(CHANGE_SALT).dumps(
        {
            "c": change.pk,
            "s": step,
            "g": change.link_generation,
            "f": fingerprint(change.user, with_verified_state=False),
        }
    )


def make_revert_token(change):
    # Not tied to the password: whoever took the account over may have changed
    # it, and the way back must still work. The change's own state (completed,
    # not reverted, still the user's address) makes it one-time instead.
    return _serializer(REVERT_SALT).dumps({"c": change.pk, "u": portable_id(change.user_id)})


def _is_canonical(token):
    """Whether the signature is spelt the one way itsdangerous writes it.

    The last base64 character of a signature carries unused bits: several
    spellings decode to the same bytes and would all verify. Only the one we
    sent is accepted, so a changed link never works.
    """
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except (BadData, UnicodeError):
        return False


def _read(token, salt, required_keys, max_age=None):
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken
    if not _is_canonical(token):
        raise BadToken
    serializer = _serializer(salt)
    expired = False
    try:
        payload = serializer.loads(token, max_age=max_age or app_settings.LINK_MAX_AGE)
    except SignatureExpired:
        # The signature is genuine but old: read it anyway so the caller can
        # tell "expired" (410, offer a new link) from "invalid" (400).
        expired = True
        try:
            payload = serializer.loads(token)
        except BadSignature as exc:
            raise BadToken from exc
    except (BadSignature, UnicodeDecodeError, ValueError) as exc:
        raise BadToken from exc
    if not isinstance(payload, dict) or not required_keys <= payload.keys():
        raise BadToken
    return ReadToken(payload=payload, expired=expired)


def read_verify_token(token):
    return _read(token, VERIFY_SALT, {"u", "f"})


def read_change_token(token):
    return _read(token, CHANGE_SALT, {"c", "s", "g", "f"})


def read_revert_token(token):
    return _read(token, REVERT_SALT, {"c", "u"}, max_age=app_settings.REVERT_MAX_AGE)
