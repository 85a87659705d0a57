"""Access revokers: what a take-back ends besides the sessions (``ACCESS_REVOKERS``).

A revert, a deny and a recovery's stop mean someone else had the account.
Ending its sessions (``flows.takeover.retire_access``) is not enough when the
site also hands out API tokens, JWTs or second-factor devices: each of those
is a way back in. A revoker is ``callable(user, *, since)`` that ends one
kind of them for ``user``; ``since`` is the moment from which a second factor
counts as the taker's (``RECOVERY_DELAY`` seconds before the change was
requested: a taker may enrol first and ask later).

A revoker may return the names of what it had to keep (a device type that
records no creation time cannot be told apart): the owner's notice lists
them. One with ``on_completion = True`` also runs when a change completes
under ``LOGOUT_OTHER_SESSIONS``; it spares the credential of the request that
completed the change (``spared()``), as that request's session is spared.

The default (``ACCESS_REVOKERS`` None) is the built-in ones whose app is
installed (``BUILT_IN``). Each built-in does nothing when its app is not
installed, so a host list may name them all.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from django.apps import apps
from django.db import router, transaction
from django.utils.module_loading import import_string

from .conf import app_settings

logger = logging.getLogger("django_verified_email")


class AccessRevoker(Protocol):
    """Ends one way into ``user``'s account; returns the names of what it had to keep."""

    def __call__(self, user: Any, *, since: datetime) -> Iterable[str] | None: ...


#: The credential (DRF's ``request.auth``) of the request that completed a change.
_spared: ContextVar[object | None] = ContextVar("verified_email_spared", default=None)


def spared() -> object | None:
    """The credential a completion's revokers leave alone (``sparing``), or None."""
    return _spared.get()


@contextlib.contextmanager
def sparing(credential: object | None) -> Iterator[None]:
    """Spare ``credential`` from the revokers a completion runs inside this block.

    A front end wraps an authenticated confirmation in it with ``request.auth``:
    the token that completed the change keeps working, as its session does.
    """
    reset = _spared.set(credential)
    try:
        yield
    finally:
        _spared.reset(reset)


def _on_completion(revoker: Any) -> Any:
    revoker.on_completion = True
    return revoker


def _installed(app: str) -> bool:
    return apps.is_installed(app)


@_on_completion
def drf_tokens(user: Any, *, since: datetime) -> None:
    """Delete the user's ``rest_framework.authtoken`` tokens."""
    if not _installed("rest_framework.authtoken"):
        return
    from rest_framework.authtoken.models import Token

    tokens = Token._default_manager.filter(user=user)
    keep = spared()
    if isinstance(keep, Token):
        tokens = tokens.exclude(pk=keep.pk)
    tokens.delete()


@_on_completion
def simplejwt_refresh_tokens(user: Any, *, since: datetime) -> None:
    """Blacklist every outstanding simplejwt refresh token of the user.

    Access tokens cannot be revoked (simplejwt checks them by signature
    alone); they end at their short lifetime. An access token does not say
    which refresh token it came from, so none is spared on a completion: the
    completing client logs in again when its access token ends.
    """
    if not _installed("rest_framework_simplejwt.token_blacklist"):
        return
    from rest_framework_simplejwt.token_blacklist.models import (
        BlacklistedToken,
        OutstandingToken,
    )

    outstanding = OutstandingToken._default_manager.filter(user=user, blacklistedtoken__isnull=True)
    BlacklistedToken._default_manager.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding],
        ignore_conflicts=True,
    )


@_on_completion
def knox_tokens(user: Any, *, since: datetime) -> None:
    """Delete the user's django-rest-knox tokens."""
    if not _installed("knox"):
        return
    from knox.models import get_token_model

    tokens = get_token_model()._default_manager.filter(user=user)
    keep = spared()
    if isinstance(keep, get_token_model()):
        tokens = tokens.exclude(pk=keep.pk)
    tokens.delete()


def otp_devices(user: Any, *, since: datetime) -> list[str]:
    """Delete the user's django-otp devices created at ``since`` or later.

    Returns the labels of the device models the user has a device of that
    record no creation time (they are kept: they may be the owner's).
    """
    if not _installed("django_otp"):
        return []
    import django_otp

    kept = []
    for model in django_otp.device_classes():
        devices = model._default_manager.filter(user=user)
        if _has_field(model, "created_at"):
            # A null time: made before django-otp recorded it, so before the change.
            devices.filter(created_at__gte=since).delete()
        elif devices.exists():
            kept.append(model._meta.label_lower)
    return kept


def allauth_mfa_authenticators(user: Any, *, since: datetime) -> None:
    """Delete the user's allauth.mfa authenticators created at ``since`` or later."""
    if not _installed("allauth.mfa"):
        return
    from allauth.mfa.models import Authenticator

    Authenticator._default_manager.filter(user=user, created_at__gte=since).delete()


def _has_field(model: Any, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


#: The built-in revokers and the app each needs.
BUILT_IN = {
    "django_verified_email.revokers.drf_tokens": "rest_framework.authtoken",
    "django_verified_email.revokers.simplejwt_refresh_tokens": (
        "rest_framework_simplejwt.token_blacklist"
    ),
    "django_verified_email.revokers.knox_tokens": "knox",
    "django_verified_email.revokers.otp_devices": "django_otp",
    "django_verified_email.revokers.allauth_mfa_authenticators": "allauth.mfa",
}


def paths() -> tuple[str, ...]:
    """The dotted paths ``ACCESS_REVOKERS`` names, or the built-ins for what is installed."""
    configured = app_settings.ACCESS_REVOKERS
    if configured is None:
        return tuple(path for path, app in BUILT_IN.items() if _installed(app))
    return tuple(configured)


@lru_cache(maxsize=64)
def load(path: str) -> AccessRevoker:
    """The revoker a dotted path names, imported once."""
    return import_string(path)


@dataclass
class Outcome:
    """What a run of revokers did: the paths that failed, and what was kept."""

    failed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def run(
    user: Any, *, since: datetime, only: Iterable[str] | None = None, completion: bool = False
) -> Outcome:
    """Run each revoker (``only``: these paths) on ``user``, each in its own savepoint.

    Inside the flow's transaction: on PostgreSQL one failed statement aborts
    the whole transaction, so each revoker gets a savepoint, and one that
    raises is rolled back alone, logged and reported as failed, and the
    others still run. ``completion``: only those with ``on_completion``.
    """
    outcome = Outcome()
    for path in paths() if only is None else only:
        try:
            revoker = load(path)
            if completion and not getattr(revoker, "on_completion", False):
                continue
            # On the user's database: the flow's transaction is there (E011).
            with transaction.atomic(using=router.db_for_write(type(user), instance=user)):
                kept = revoker(user, since=since)
        except Exception:
            logger.exception("Access revoker %s failed for user %s; it is owed", path, user.pk)
            outcome.failed.append(path)
            continue
        for name in kept or ():
            if name not in outcome.kept:
                outcome.kept.append(name)
    return outcome


def kept_names(labels: Iterable[str]) -> list[str]:
    """The names, in the active language, of the device types ``labels`` name."""
    names = []
    for label in labels:
        try:
            names.append(str(apps.get_model(label)._meta.verbose_name))
        except (LookupError, ValueError):
            names.append(label)
    return names
