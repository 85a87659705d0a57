"""The session epoch for user models whose session hash cannot carry it.

With ``VerifiedEmailMixin`` the security counter's session epoch is part of
Django's session hash (the mixin's ``get_session_auth_hash``): moving it ends
every session. Django's ``auth.User`` has no such hook, so with the profile
store the epoch goes into the session at login (``remember_epoch``, a
``user_logged_in`` receiver) and ``SessionEpochMiddleware`` logs out a
session whose epoch is older than the user's. A revert also retires the
password, which changes Django's own hash; the epoch is what ends the other
sessions when a completed change does so (``LOGOUT_OTHER_SESSIONS``).

The request that completes a change judges its own session in the
completing transaction instead (``session_user_before_move``,
``judged_after_move``): the flow reads the user's state there under the
lock, so the middleware's read would be a second one, and a front end that
reads the session past the middleware (the JSON API's confirm view, which
authenticates nobody) is judged the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth import get_user, logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from .stores import get_store, session_epoch

#: The session key that holds the epoch the session logged in at.
EPOCH_SESSION_KEY = "_verified_email_epoch"
#: Where ``MIDDLEWARE`` names it (system check W013).
PATH = "django_verified_email.middleware.SessionEpochMiddleware"
#: Who the middleware found the request's session logged in as, once it looked.
JUDGED = "_verified_email_session_user"


def current_epoch(user: Any) -> int:
    """Return the user's session epoch, as the store holds it."""
    return session_epoch(get_store().security_counter(user))


def remember_epoch(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: the session starts at the user's current epoch."""
    session = getattr(request, "session", None)
    if session is not None and not get_store().epoch_in_session_hash:
        session[EPOCH_SESSION_KEY] = current_epoch(user)


def _checked(request: HttpRequest) -> Any:
    user = get_user(request)
    if user.is_authenticated and request.session.get(EPOCH_SESSION_KEY, 0) < current_epoch(user):
        # logout() reads request.user: the user, not this lazy object that is
        # still being worked out.
        request.user = user
        logout(request)
        user = request.user
    setattr(request, JUDGED, user)
    return user


def _session_user(request: HttpRequest, *, judge: bool) -> Any:
    if hasattr(request, JUDGED):
        return getattr(request, JUDGED)
    if not hasattr(request, "session"):
        return None
    if judge and not get_store().epoch_in_session_hash:
        return _checked(request)
    return get_user(request)


def judged_session_user(request: HttpRequest) -> Any:
    """Return who ``request``'s session is logged in as, its epoch judged as the middleware does.

    For a view that reads the session past ``request.user`` (the JSON API's
    confirm views, where DRF's user is not the session's): a session a moved
    epoch ended is logged out here too. None without a session.
    """
    return _session_user(request, judge=True)


def session_user_before_move(request: HttpRequest) -> Any:
    """Return who ``request``'s session is logged in as, its epoch not yet judged.

    For a request that is about to move its user's session epoch (a
    completion): ``judged_after_move`` judges it then, against the state the
    move read under the user's lock, rather than spend a read on it now.
    Where the middleware already looked, its verdict. None without a session.
    """
    return _session_user(request, judge=False)


def judged_after_move(request: HttpRequest, session_user: Any, moved_user: Any) -> Any:
    """Judge ``session_user`` (``session_user_before_move``) once ``moved_user``'s epoch moved.

    Call it in the transaction that moved the epoch by one, ending sessions
    (``stores.moved(end_sessions=True)``), with the locked user: a session of
    that user logged in before the epoch the move left behind had ended
    already, and is anonymous here (the middleware logs it out at its next
    request). A session of anyone else is returned as it is: only whether it
    is ``moved_user``'s matters to the caller.
    """
    if hasattr(request, JUDGED):
        # The middleware looked (before the move, or after it: then ended).
        return getattr(request, JUDGED)
    if session_user is None or not session_user.is_authenticated:
        return session_user
    if session_user.pk != moved_user.pk:
        return session_user
    if request.session.get(EPOCH_SESSION_KEY, 0) < current_epoch(moved_user) - 1:
        return AnonymousUser()
    return session_user


async def _achecked(request: HttpRequest) -> Any:
    return await sync_to_async(_checked)(request)


class SessionEpochMiddleware:
    """Log out a session that logged in before its user's session epoch moved.

    Add it after ``AuthenticationMiddleware``. It reads the user's state
    when ``request.user`` is first used, as Django reads the user. With a
    store whose session hash carries the epoch it does nothing.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _wrap(self, request: HttpRequest) -> None:
        if get_store().epoch_in_session_hash or not hasattr(request, "session"):
            return
        request.user = SimpleLazyObject(partial(_checked, request))  # type: ignore[assignment]
        request.auser = partial(_achecked, request)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.is_async:
            return self.__acall__(request)  # type: ignore[return-value]
        self._wrap(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self._wrap(request)
        return await self.get_response(request)
