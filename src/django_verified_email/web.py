"""Glue the front ends share (HTML views, JSON API, admin): links, statuses, sessions.

The flows know nothing of HTTP; what every front end must do the same way
around them lives here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.module_loading import import_string

from . import flows, middleware, sessions, tokens
from . import request_context as context
from . import second_factor as factors
from .conf import app_settings
from .exceptions import (
    AlreadyVerified,
    DeliveryFailed,
    EmailTakenMeanwhile,
    ExpiredCode,
    ExpiredToken,
    LockedOut,
    NoEmail,
    NoPendingChange,
    ReauthenticationUnavailable,
    RevertPending,
    SecondFactorRequired,
    Throttled,
    VerifiedEmailError,
)
from .models import EmailChange
from .stores import get_store

# The HTTP status of each flow error; any other answers 400 (bad input, a
# link that is not valid). Read through the class hierarchy, so a subclass
# listed here wins over its base: a taken address is bad input when it is
# asked for (400), a conflict when it was taken since (409).
HTTP_STATUS: dict[type[VerifiedEmailError], int] = {
    ExpiredToken: 410,
    ExpiredCode: 410,
    AlreadyVerified: 409,
    NoEmail: 409,
    EmailTakenMeanwhile: 409,
    RevertPending: 409,
    LockedOut: 429,
    Throttled: 429,
    NoPendingChange: 404,
    SecondFactorRequired: 403,
    ReauthenticationUnavailable: 403,
    DeliveryFailed: 503,
}


def http_status(error: VerifiedEmailError) -> int:
    """Return the HTTP status a front end answers ``error`` with."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def link_base(request: HttpRequest) -> str:
    """Return the scheme and host for links when ``BASE_URL`` is unset.

    ``get_host()`` validates the Host header against ``ALLOWED_HOSTS``, so a
    forged header cannot point links at another site.
    """
    if app_settings.BASE_URL:
        return app_settings.BASE_URL
    return request.build_absolute_uri("/")


def request_context(request: HttpRequest) -> context.RequestContext:
    """Return where ``request`` came from, for the emails that ask "was this me?".

    Read from the connection, or from the proxy header the host names
    (``CLIENT_IP_HEADER``); see ``request_context.client_ip``.
    """
    return context.capture(request.META)


def passed_second_factor(request: HttpRequest, user: Any) -> bool:
    """Return whether ``request`` passed the host's second factor (``RECOVERY_SECOND_FACTOR``).

    False when the setting is None: only a host that has MFA can say.
    """
    path = app_settings.RECOVERY_SECOND_FACTOR
    if not path:
        return False
    return bool(import_string(path)(request, user))


def second_factor_proof(request: HttpRequest, otp: object = None) -> factors.Proof:
    """Return what ``request`` brings toward the user's second factor, for ``flows.request_change``.

    Its session (whether it passed the factor), and the one-time password
    ``otp`` it sent, if any: API clients on tokens or JWTs have no session
    that passed anything. Anything but a string counts as none sent.
    """
    return factors.Proof(request=request, otp=otp if isinstance(otp, str) else None)


def second_factor_missing(request: HttpRequest, user: Any) -> bool:
    """Return whether ``user`` has a second factor that ``request``'s session has not passed.

    For the change page, which then says so before the form is filled in.
    """
    return factors.precheck(user, second_factor_proof(request)) == factors.Verdict.MISSING


def complete_if_due(
    request: HttpRequest,
    change: EmailChange | None,
    *,
    read_session_user: Callable[[HttpRequest], Any] | None = None,
) -> EmailChange | None:
    """Complete the user's scheduled ``change`` if its wait is over; return it if it closed.

    The status page calls it with the pending change it read, so a user who
    comes back after ``completes_at`` finds the change done before any cron
    job ran. The request's session takes the new session hash, as on any
    completion, when it is logged in as the user: ``read_session_user``
    says who it is (as ``confirm_change`` takes it).
    """
    read = read_session_user or session_user
    before = read(request) if change is not None else None
    closed = flows.complete_if_due(change, base_url=link_base(request))
    if closed is not None and closed.status == EmailChange.Status.COMPLETED:
        sessions.after_address_changed(request, closed.user, session_user=before)
    return closed


def session_user(request: HttpRequest) -> Any:
    """Return who the request is logged in as, resolved now (Django resolves it lazily).

    Token pages need no login, so they also serve hosts that run them without
    ``AuthenticationMiddleware`` (an API-only project): anonymous there.
    """
    user = getattr(request, "user", None) or AnonymousUser()
    user.is_authenticated  # noqa: B018
    return user


def confirm_change(
    request: HttpRequest,
    token: object,
    *,
    read_session_user: Callable[[HttpRequest], Any] = session_user,
) -> EmailChange:
    """Use a change link for a front end, and renew the session if the address changed.

    ``read_session_user`` says who the request's session is logged in as.
    With ``LOGOUT_OTHER_SESSIONS`` it is read before a link that can complete
    the change is used: the completion moves the session epoch, and the
    session's stored hash no longer matches after it. Otherwise (and for the
    old address's link, which completes nothing) it is read later, only when
    a change completed, which spares the confirm-old step two queries.
    The link is read once, here: the flow takes it as read.
    """
    link = flows.read_change_link(token)
    return _confirm_and_renew(
        request,
        lambda renew: flows.confirm_change(link, base_url=link_base(request), on_complete=renew),
        read_session_user,
        may_complete=link.step == tokens.Step.NEW,
    )


def confirm_change_by_code(
    request: HttpRequest,
    user: Any,
    code: object,
    *,
    link: object = None,
    read_session_user: Callable[[HttpRequest], Any] = session_user,
) -> EmailChange:
    """Confirm a change step with its code for a front end, as ``confirm_change`` does a link.

    ``user`` is who the request is authenticated as; ``link`` as
    ``flows.confirm_change_by_code`` takes it.
    """
    return _confirm_and_renew(
        request,
        lambda renew: flows.confirm_change_by_code(
            user, code, base_url=link_base(request), link=link, on_complete=renew
        ),
        read_session_user,
        # Which step a code is for is only known once it is read.
        may_complete=True,
    )


def _confirm_and_renew(
    request: HttpRequest,
    confirm: Callable[[Callable[[EmailChange], None]], EmailChange],
    read_session_user: Callable[[HttpRequest], Any],
    *,
    may_complete: bool,
) -> EmailChange:
    completes = app_settings.LOGOUT_OTHER_SESSIONS and may_complete
    # The session hash carries the epoch (the mixin): the session is judged
    # before the completion moves it. Otherwise (SessionEpochMiddleware) its
    # epoch is judged in the completing transaction, against the user's state
    # read there under the lock: one read fewer than judging it first.
    judged_in_hash = get_store().epoch_in_session_hash
    if not completes:
        before = None
    elif judged_in_hash:
        before = read_session_user(request)
    else:
        before = middleware.session_user_before_move(request)

    def renew(change: EmailChange) -> None:
        # In the completing transaction: the new session row, the old one's
        # deletion and the change commit together (no commit of their own),
        # and a change whose notices then fail has renewed the session all
        # the same. (Django saves no session on a 5xx answer, so with
        # database or cache sessions that failure logs the user out.)
        if not completes:
            # Read from the session, not request.user: an API client's is
            # whoever its token names, whatever session its cookie carries.
            who = read_session_user(request)
        elif judged_in_hash:
            who = before
        else:
            who = middleware.judged_after_move(request, before, change.user)
        sessions.after_address_changed(request, change.user, session_user=who)

    return confirm(renew)


def confirm_revert(
    request: HttpRequest, token: object, password: object = None
) -> tuple[EmailChange, str | None]:
    """Use a "this wasn't me" link for a front end; return the change and a password token.

    With a password that proves the owner (``flows.confirm_revert``) the
    revert is immediate: every session of the account ends (the flow moved
    the session epoch), and the request's own session too when it is logged
    in as the account (``sessions.end_this_session``); the token sets a new
    password (``flows.confirm_set_password``). Without one the revert is
    scheduled (``change.reverted_at`` is None): nothing ends, and the token
    is None (the mailbox alone gets no new password: the site's reset).
    """
    change = _done_even_if_unsent(flows.confirm_revert, token, request, password=password)
    if change.reverted_at is None:
        return change, None
    sessions.end_this_session(request, change.user)
    return change, flows.set_password_token(change.user)


def confirm_deny(request: HttpRequest, token: object) -> tuple[EmailChange, str]:
    """Use an old-address link to refuse its change, for a front end (as ``confirm_revert``)."""
    change = _done_even_if_unsent(flows.confirm_deny, token, request)
    sessions.end_this_session(request, change.user)
    return change, flows.set_password_token(change.user)


def confirm_deny_by_code(request: HttpRequest, user: Any, code: object) -> tuple[EmailChange, str]:
    """Refuse the user's change with its old-address code, for a front end (as ``confirm_deny``).

    ``user`` is who the request is authenticated as.
    """

    def deny(code: object, **options: Any) -> EmailChange:
        return flows.confirm_deny_by_code(user, code, **options)

    change = _done_even_if_unsent(deny, code, request)
    sessions.end_this_session(request, change.user)
    return change, flows.set_password_token(change.user)


def confirm_stop(request: HttpRequest, token: object) -> EmailChange:
    """Use a recovery's "stop this change" link for a front end: a deny, answered as one.

    But with no "set a new password" token: the old mailbox may be a
    recycled address by now, so its holder gets the site's password reset.
    """
    change = _done_even_if_unsent(flows.confirm_stop, token, request)
    sessions.end_this_session(request, change.user)
    return change


def _done_even_if_unsent(
    confirm: Callable[..., EmailChange], token: object, request: HttpRequest, **options: Any
) -> EmailChange:
    # A revert or deny that committed but whose notices failed is still
    # answered as done: the person on the page needs the new-password form
    # more than the news that a mail server is down (the failure is logged).
    # Its context goes to the emails that ask "was this me?".
    try:
        return confirm(
            token, base_url=link_base(request), context=request_context(request), **options
        )
    except DeliveryFailed as error:
        if error.change is None:
            raise
        return error.change
