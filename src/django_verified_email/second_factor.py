"""Second factors a change request must pass (``REAUTHENTICATE``).

A user with a confirmed second factor (a django-otp device, an allauth.mfa
authenticator, or one the host's own hook knows of) needs more than the
password to ask for a change: either the request's session passed that
factor (django-otp's ``OTPMiddleware``, allauth's record of an MFA
authentication), or the request carries a one-time password (``otp``) that
one of the user's factors accepts. API clients on tokens or JWTs have no
session that passed anything: they send ``otp``.

A factor is an object of the ``SecondFactor`` shape. The built-in ones are
used for what is installed (``BUILT_IN``); ``REAUTHENTICATE`` names the
dotted path of one more, the host's own, loaded once. The flows only see
``Proof``, what a front end read of the request, and ask ``check`` about it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from django.apps import apps
from django.utils.module_loading import import_string

from .conf import app_settings


class SecondFactor(Protocol):
    """One kind of second factor.

    Implementations must answer all three without side effects other than
    what the factor itself records of a used one-time password (django-otp
    and allauth refuse a TOTP value used twice): ``verify`` is called at
    most once per request, after the password was found right.

    A factor may also have ``url_name``: the URL name of the host's page
    where a logged-in session passes it again (the change page links to it),
    and ``has_otp(user)``: whether the user has a factor of this kind that
    ``verify`` can check (a factor without it: every enabled one can).
    """

    def is_enabled(self, user: Any) -> bool:
        """Return whether ``user`` has a confirmed factor of this kind."""
        ...

    def passed(self, request: Any, user: Any) -> bool:
        """Return whether ``request``'s session passed this factor as ``user``."""
        ...

    def verify(self, user: Any, otp: str) -> bool:
        """Return whether ``otp`` is a one-time password one of the user's factors accepts."""
        ...


class DjangoOTP:
    """django-otp's confirmed devices; a session passed them through ``OTPMiddleware``."""

    def is_enabled(self, user: Any) -> bool:
        from django_otp import user_has_device

        return user_has_device(user, confirmed=True)

    def passed(self, request: Any, user: Any) -> bool:
        # OTPMiddleware gives the request's user ``is_verified()``; the
        # request must be logged in as this user for its verification to
        # count. Without the middleware no session passes.
        session_user = getattr(request, "user", None)
        if session_user is None or getattr(session_user, "pk", None) != user.pk:
            return False
        is_verified = getattr(session_user, "is_verified", None)
        return callable(is_verified) and bool(is_verified())

    def verify(self, user: Any, otp: str) -> bool:
        from django_otp import match_token

        return match_token(user, otp) is not None


class AllauthMFA:
    """allauth.mfa's authenticators; a session passed them when allauth recorded an MFA login."""

    #: allauth's page where a logged-in session passes MFA again.
    url_name = "mfa_reauthenticate"

    def is_enabled(self, user: Any) -> bool:
        from allauth.mfa.utils import is_mfa_enabled

        return bool(is_mfa_enabled(user))

    def passed(self, request: Any, user: Any) -> bool:
        from allauth.account.authentication import get_authentication_records

        if not hasattr(request, "session"):
            return False
        records = get_authentication_records(request, user)
        return any(record.get("method") == "mfa" for record in records)

    def has_otp(self, user: Any) -> bool:
        """A TOTP authenticator: the only kind ``verify`` checks (WebAuthn has no code)."""
        from allauth.mfa.models import Authenticator

        return Authenticator._default_manager.filter(
            user=user, type=Authenticator.Type.TOTP
        ).exists()

    def verify(self, user: Any, otp: str) -> bool:
        from allauth.mfa.models import Authenticator

        # TOTP only: a recovery code is for a lost device, not for a change
        # of the address that would recover the account next.
        totps = Authenticator._default_manager.filter(user=user, type=Authenticator.Type.TOTP)
        return any(authenticator.wrap().validate_code(otp) for authenticator in totps)


#: The built-in factors and the app each needs.
BUILT_IN = {
    "django_verified_email.second_factor.DjangoOTP": "django_otp",
    "django_verified_email.second_factor.AllauthMFA": "allauth.mfa",
}


def paths() -> tuple[str, ...]:
    """The dotted paths of the factors in use: the installed built-ins, then ``REAUTHENTICATE``."""
    found = [path for path, app in BUILT_IN.items() if apps.is_installed(app)]
    if app_settings.REAUTHENTICATE:
        found.append(app_settings.REAUTHENTICATE)
    return tuple(found)


@lru_cache(maxsize=16)
def load(path: str) -> SecondFactor:
    """The factor a dotted path names (a class, or an instance), imported once."""
    found = import_string(path)
    return found() if isinstance(found, type) else found


def factors() -> list[SecondFactor]:
    return [load(path) for path in paths()]


class Verdict(enum.Enum):
    NOT_NEEDED = "not_needed"
    PASSED = "passed"
    MISSING = "missing"
    WRONG = "wrong"


@dataclass
class Proof:
    """What a request brings toward the second factor: its session, and an ``otp`` it carries.

    Built by a front end (``web.second_factor_proof``); ``request`` is the
    Django request, or None outside one. ``otp`` None: the request sent none.
    """

    request: Any = None
    otp: str | None = None
    #: Set by ``check`` once an ``otp`` in this request was accepted.
    otp_accepted: bool = False
    #: The user's factors, as ``precheck`` found them: ``check`` does not ask again.
    enabled: list[SecondFactor] | None = field(default=None, repr=False)


def enabled_for(user: Any) -> list[SecondFactor]:
    """The factors ``user`` has confirmed."""
    return [factor for factor in factors() if factor.is_enabled(user)]


def takes_otp(user: Any) -> bool:
    """Whether one of ``user``'s factors can check a one-time password sent in the request."""
    for factor in enabled_for(user):
        has_otp = getattr(factor, "has_otp", None)
        if has_otp is None or has_otp(user):
            return True
    return False


def precheck(user: Any, proof: Proof) -> Verdict:
    """Say, before any password is checked, whether ``proof`` can pass: MISSING if not.

    MISSING: the user has a factor, the request sent no ``otp`` and its
    session passed none. Answered without taking a re-authentication
    attempt, so it also never forgets one.
    """
    enabled = proof.enabled = enabled_for(user)
    if not enabled:
        return Verdict.NOT_NEEDED
    if proof.otp is not None:
        return Verdict.PASSED  # not yet: ``check`` verifies it after the password
    if proof.request is not None and any(f.passed(proof.request, user) for f in enabled):
        return Verdict.PASSED
    return Verdict.MISSING


def check(user: Any, proof: Proof) -> Verdict:
    """Check ``proof`` for ``user``: the ``otp`` it carries, else its session.

    Call once the password was found right: a wrong ``otp`` counts as a
    failed re-authentication, and a one-time password may only be tried by
    someone who knows the password.
    """
    enabled = proof.enabled if proof.enabled is not None else enabled_for(user)
    if not enabled:
        return Verdict.NOT_NEEDED
    if proof.otp is not None:
        if any(factor.verify(user, proof.otp) for factor in enabled):
            proof.otp_accepted = True
            return Verdict.PASSED
        return Verdict.WRONG
    if proof.request is not None and any(f.passed(proof.request, user) for f in enabled):
        return Verdict.PASSED
    return Verdict.MISSING


def reauthenticate_url(user: Any) -> str | None:
    """The host's page where a session passes one of ``user``'s factors, if one is known.

    A factor names its page by a ``url_name`` attribute (optional in the
    ``SecondFactor`` shape): allauth.mfa has one (``mfa_reauthenticate``);
    django-otp ships none.
    """
    from django.urls import NoReverseMatch, reverse

    for factor in enabled_for(user):
        name = getattr(factor, "url_name", None)
        if not name:
            continue
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None
