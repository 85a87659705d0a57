"""The HTML front end: thin views over ``flows``."""

import logging
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from django.views.defaults import bad_request

from . import addresses, codes, durations, emails, flows, second_factor, web
from .conf import app_settings
from .exceptions import (
    DeliveryFailed,
    ExpiredCode,
    ExpiredToken,
    InvalidCode,
    InvalidToken,
    LockedOut,
    ReauthenticationUnavailable,
    SecondFactorRequired,
    VerifiedEmailError,
)
from .forms import ChangeEmailForm
from .passwords import delay as revert_wait
from .stores import get_store
from .tokens import Step
from .web import link_base


def _hide_token(request, token):
    """Take the token out of the paths Django and the host log and report.

    Django logs every 4xx and 5xx response, and every unhandled error, with
    ``request.path``; error reports carry all of ``META`` (where servers keep
    the raw request line: ``RAW_URI``, ``REQUEST_URI``...) and the URL
    arguments the handler called the view with. A live link must appear in
    none of them. The view itself gets the token as an argument.
    """
    if not token:
        return
    for attribute in ("path", "path_info"):
        setattr(request, attribute, getattr(request, attribute).replace(token, "[token]"))
    for key, value in list(request.META.items()):
        if isinstance(value, str) and token in value:
            request.META[key] = value.replace(token, "[token]")
    match = getattr(request, "resolver_match", None)
    if match is not None:
        # The very dicts the handler's frame holds (the view got copies).
        for kwargs in (match.kwargs, getattr(match, "captured_kwargs", None) or {}):
            if kwargs.get("token") == token:
                kwargs["token"] = "[token]"


def token_page(view):
    """Headers for any page whose URL carries a token.

    Exempt from CSRF: under ``Referrer-Policy: no-referrer`` browsers send
    ``Origin: null`` with the confirm form's POST, which Django's CSRF check
    refuses, so no real browser could confirm. The one-time token in the URL
    is what authorises the POST (the session at most gets a new key), so a
    forged POST can do nothing its sender could not do with the link directly.

    Exempt from a host's ``LoginRequiredMiddleware`` too: the link is the
    proof, and a redirect to the login page would carry the token in ?next=.
    """

    @login_not_required
    # An error report shows the variables of every frame an error passed
    # through: below this one, they hold the token (and the account it opens).
    @sensitive_variables()
    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        _hide_token(request, kwargs.get("token"))
        try:
            response = view(request, *args, **kwargs)
        except SuspiciousOperation as exc:
            # Django's own 400 page (a forged Host, an oversized body) answers
            # this URL too: made here, it gets the headers below. Raised before
            # any write, so nothing a request transaction holds is kept by it.
            # Logged as Django logs it, to django.security.<the error's class>.
            logging.getLogger(f"django.security.{type(exc).__name__}").error(
                exc, extra={"status_code": 400, "request": request}
            )
            response = bad_request(request, exc)
        # The token must not leak to another site through Referer, nor stay in
        # a shared cache.
        response["Referrer-Policy"] = "no-referrer"
        add_never_cache_headers(response)
        return response

    return wrapped


def error_page(request, error, **context):
    """Render a flow error as a page with the error's status code."""
    if isinstance(error, InvalidToken):
        template = "verified_email/link_invalid.html"
    elif isinstance(error, ExpiredToken):
        template = "verified_email/link_expired.html"
    else:
        template = "verified_email/error.html"
    response = render(
        request,
        template,
        {
            "error": error,
            "code": error.code,
            "detail": error.detail,
            "login_url": resolve_url(settings.LOGIN_URL),
            "support_url": emails.support_url(),
            **_wait_context(error),
            **context,
        },
        status=web.http_status(error),
    )
    _set_retry_after(response, error)
    return response


def _set_retry_after(response, error):
    # Seconds for machines; the page says it in words.
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)


def _wait_context(error):
    """The wait before trying again, in words and as a time (nothing without a wait)."""
    if not error or not error.retry_after:
        return {}
    return {
        "wait": durations.in_words(error.retry_after),
        "wait_ends_at": timezone.now() + timedelta(seconds=error.retry_after),
    }


def _lock_context(lock):
    """What a page shows of a lock on changes before anyone fills in the form."""
    if lock is None:
        return {"lock": None}
    return {
        "lock": lock,
        "lock_wait": durations.in_words(lock.retry_after),
        "lock_ends_at": _wait_context(lock)["wait_ends_at"],
        "support_url": emails.support_url(),
    }


def success_redirect():
    return redirect(resolve_url(app_settings.SUCCESS_URL or "verified_email:status"))


@login_required
@require_http_methods(["GET", "HEAD"])
def status(request):
    user = request.user
    change = flows.pending_change(user)
    closed = web.complete_if_due(request, change)
    if closed is not None:
        change = None
        user = closed.user
        if closed.status == closed.Status.COMPLETED:
            text = _("Your email address is now %(email)s.")
        else:
            text = _(
                "Your email change to %(email)s was cancelled: your account changed while it "
                "waited, or the address was taken."
            )
        messages.success(request, text % {"email": closed.new_email}, fail_silently=True)
    return render(
        request,
        "verified_email/status.html",
        {
            "current_email": addresses.of_user(user),
            "is_email_verified": get_store().is_verified(user),
            "change": change,
            **_countdown(change),
            **_lock_context(flows.change_lock(user)),
        },
    )


def _countdown(change):
    """What a page shows of a scheduled change's wait (nothing for other changes)."""
    if change is None or change.completes_at is None or not change.is_pending:
        return {}
    left = (change.completes_at - timezone.now()).total_seconds()
    return {"completes_at": change.completes_at, "completes_in": durations.in_words(max(1, left))}


def _recovery_delay_words():
    return durations.in_words(app_settings.RECOVERY_DELAY or 0)


def _recoverable_address(user):
    """The verified address a recovery could replace, or "" when none is offered."""
    if app_settings.RECOVERY_DELAY is None or not get_store().is_verified(user):
        return ""
    return addresses.of_user(user)


@login_required
@require_POST
def verify_send(request):
    try:
        flows.send_verification(request.user, base_url=link_base(request))
    except VerifiedEmailError as error:
        return error_page(request, error)
    messages.success(
        request,
        _("We sent a verification link to %(email)s.") % {"email": addresses.of_user(request.user)},
        fail_silently=True,
    )
    return redirect("verified_email:status")


def _answers_errors(flow):
    """Answer the flow errors of a link page's action with their page (``error_page``)."""

    def decorate(action):
        @wraps(action)
        def answered(request, token):
            try:
                return action(request, token)
            except VerifiedEmailError as error:
                return error_page(request, error, flow=flow)

        return answered

    return decorate


def _by_button(request, token, *, show, confirm, actions):
    """Route a link's request: GET shows its page, a POST runs the action its button names.

    Every button of a link's page posts to the link's own URL (from a
    no-referrer page, a form sent elsewhere carries "Origin: null"); the
    field a button posts (``actions``: field -> action) says which. A POST
    with none of them confirms.
    """
    if request.method != "POST":
        return show(request, token)
    for field, action in actions.items():
        if field in request.POST:
            return action(request, token)
    return confirm(request, token)


@_answers_errors("verify")
def verify_link_page(request, token):
    # Mail scanners open links: a GET only shows the confirm button.
    user = flows.check_verification(token)
    return render(request, "verified_email/verify_confirm.html", {"email": addresses.of_user(user)})


@_answers_errors("verify")
def verify_link_confirm(request, token):
    user = flows.confirm_verification(token)
    messages.success(
        request,
        _("Your email address %(email)s is verified.") % {"email": addresses.of_user(user)},
        fail_silently=True,
    )
    return success_redirect()


@_answers_errors("verify")
def verify_link_resend(request, token):
    return _resend_for_expired_link(request, token, flows.resend_verification_for_expired_link)


@token_page
@require_http_methods(["GET", "HEAD", "POST"])
def verify_confirm(request, token):
    return _by_button(
        request,
        token,
        show=verify_link_page,
        confirm=verify_link_confirm,
        actions={"resend": verify_link_resend},
    )


def _resend_for_expired_link(request, token, resend):
    """The expired-link page's "send me a new link" button, posted to the link itself."""
    if not web.session_user(request).is_authenticated:
        # Not back to this URL: the token would travel on in ?next=.
        return redirect_to_login(reverse("verified_email:status"))
    resend(token, request.user, base_url=link_base(request))
    messages.success(request, _("We sent you a new link."), fail_silently=True)
    return redirect("verified_email:status")


# The password, like on Django's own login and password pages, stays out of
# error reports: the POST data and every frame's variables.
@sensitive_post_parameters("password", "code")
@sensitive_variables()
# A page that takes the password must never be framed, whatever the host's
# middleware says: a page of another site could lay it under its own and
# have the user type the password into it (clickjacking).
@xframe_options_deny
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def change(request):
    # An empty POST is still a submission: it must show "required" errors.
    method = flows.reauthentication(request.user)
    if method == "none":
        # No password and no other way the host allows: said at once, no form.
        return error_page(request, ReauthenticationUnavailable())
    by_code = method == "code"
    by_second_factor = method == "second_factor"
    form = ChangeEmailForm(
        request.POST if request.method == "POST" else None,
        lost_address=_recoverable_address(request.user),
        by_code=by_code,
        by_second_factor=by_second_factor,
    )
    if (
        request.method != "POST"
        and not by_second_factor
        and web.second_factor_missing(request, request.user)
    ):
        # Said before the form is filled in: no password would be enough.
        return second_factor_page(request, SecondFactorRequired())
    # A lock is shown before the form is filled in, not after.
    lock = flows.change_lock(request.user) if request.method != "POST" else None
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            pending = _request_change(request, form)
        except DeliveryFailed as error:
            # The change is saved: the way on is the status page's resend.
            return error_page(request, error)
        except SecondFactorRequired as error:
            return second_factor_page(request, error)
        except VerifiedEmailError as error:
            refusal = _refusal(form, error)
            if isinstance(refusal, LockedOut):
                lock = refusal
        else:
            messages.success(request, _requested_text(pending), fail_silently=True)
            return redirect("verified_email:status")
    response = render(
        request,
        "verified_email/change_form.html",
        {
            "form": form,
            "current_email": addresses.of_user(request.user),
            "refusal": refusal,
            "by_code": by_code,
            **_lock_context(lock),
        },
        status=web.http_status(refusal) if refusal else 200,
    )
    if refusal:
        _set_retry_after(response, refusal)
    return response


def _request_change(request, form):
    lost = bool(form.cleaned_data.get("old_email_lost"))
    return flows.request_change(
        request.user,
        form.cleaned_data["new_email"],
        form.cleaned_data.get("password"),
        base_url=link_base(request),
        context=web.request_context(request),
        old_email_lost=lost,
        code=form.cleaned_data.get("code"),
        second_factor=lost and web.passed_second_factor(request, request.user),
        second_factor_proof=web.second_factor_proof(request, form.cleaned_data.get("otp")),
    )


@login_required
@require_POST
def change_reauth_code(request):
    """Send the code a user without a password re-authenticates with, then back to the form."""
    try:
        email = flows.send_reauth_code(request.user, base_url=link_base(request))
    except VerifiedEmailError as error:
        return error_page(request, error)
    messages.success(
        request,
        _("We sent a code to %(email)s. Type it below.") % {"email": email},
        fail_silently=True,
    )
    return redirect("verified_email:change")


def second_factor_page(request, error):
    """Say that the account's second factor must be passed first, and where to pass it.

    allauth.mfa has a page for that (``mfa_reauthenticate``), which comes
    back here; django-otp ships none, so the page says how else (log in
    again) and points to support.
    """
    url = second_factor.reauthenticate_url(request.user)
    if url:
        url = f"{url}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}"
    return render(
        request,
        "verified_email/second_factor_required.html",
        {
            "error": error,
            "code": error.code,
            "reauthenticate_url": url,
            "support_url": emails.support_url(),
        },
        status=web.http_status(error),
    )


def _refusal(form, error):
    """Show a refused request's error on its field; return it if it refuses the request as a whole.

    A refusal as a whole (a lockout, a cooldown) brings the form back with
    the address as typed, never the password.
    """
    field = ChangeEmailForm.ERROR_FIELDS.get(error.code)
    if field is None or field not in form.fields:
        return error
    form.add_error(field, error.message)
    return None


def _requested_text(pending):
    """What the page says once a change is requested: where to look next."""
    if pending.old_email_lost and pending.second_factor:
        return _(
            "To confirm, open the link we sent to %(new_email)s. We told %(old_email)s too."
        ) % {"new_email": pending.new_email, "old_email": pending.old_email}
    if pending.old_email_lost:
        return _(
            "To confirm, open the link we sent to %(new_email)s. We told %(old_email)s "
            "too: the change completes %(delay)s after you confirm, unless it is stopped."
        ) % {
            "new_email": pending.new_email,
            "old_email": pending.old_email,
            "delay": _recovery_delay_words(),
        }
    if pending.status == pending.Status.AWAITING_OLD:
        return _("To confirm, open the link we sent to your current address, %(email)s.") % {
            "email": pending.old_email
        }
    return _("To confirm, open the link we sent to %(email)s.") % {"email": pending.new_email}


@_answers_errors("change")
def change_link_page(request, token):
    deny_only = False
    try:
        pending, step = flows.check_change(token)
    except InvalidToken:
        # An old-address link a resend replaced, or of a change a later
        # request superseded, can no longer confirm but still refuses the
        # account's open change (flows.deny): its page offers only that.
        pending, step, deny_only = flows.check_deny(token), Step.OLD, True
    return render(
        request,
        "verified_email/change_confirm.html",
        # ?deny=1: the email's "This wasn't me" link; the page leads with
        # that button. Only its POST acts.
        {
            "change": pending,
            "step": step,
            "deny_first": deny_only or "deny" in request.GET,
            "deny_only": deny_only,
        },
    )


@_answers_errors("change")
def change_link_confirm(request, token):
    pending = web.confirm_change(request, token)
    # The one who opened the link may type the new address's code right
    # here, if they are logged in as the account (posted back to this URL:
    # see flows.confirm_change_by_code).
    return _after_change_step(request, pending, code_action="")


@_answers_errors("change")
def change_link_deny(request, token):
    """The old address's "This wasn't me": the change is refused, the account taken back."""
    denied, password_token = web.confirm_deny(request, token)
    return _taken_back_page(request, "verified_email/change_denied.html", denied, password_token)


@_answers_errors("change")
def change_link_code(request, token):
    """The code box of the "one more step" page, posted back to the link's own URL."""
    if not web.session_user(request).is_authenticated:
        # Not back to this URL (the token would travel on in ?next=): to the
        # change's code page, where the code waits for the change's account.
        return _to_login_keeping_code(
            request, "change", change_id=flows.read_change_link(token).change_id
        )
    try:
        pending = web.confirm_change_by_code(
            request, request.user, request.POST.get("code"), link=token
        )
    except (InvalidCode, ExpiredCode) as error:
        return _code_refused(
            request,
            error,
            "verified_email/change_old_confirmed.html",
            {"change": flows.pending_change(request.user), "code_action": ""},
        )
    return _after_change_step(request, pending, code_action="")


@_answers_errors("change")
def change_link_resend(request, token):
    return _resend_for_expired_link(request, token, flows.resend_change_for_expired_link)


@token_page
# Its deny answer shows the new-password form: never framed (see change()).
# Inside token_page, whose frame hides the token from error reports.
@xframe_options_deny
@sensitive_post_parameters("code")
@require_http_methods(["GET", "HEAD", "POST"])
def change_confirm(request, token):
    # The email's "This wasn't me" opens this link with ?deny=1; the page
    # posts deny=1 back here (so does the contract's POST).
    return _by_button(
        request,
        token,
        show=change_link_page,
        confirm=change_link_confirm,
        actions={
            "resend": change_link_resend,
            "deny": change_link_deny,
            "code": change_link_code,
        },
    )


def _after_change_step(request, pending, *, code_action):
    """The page after a change step: "one more step", or on to the success URL."""
    if pending.status == pending.Status.AWAITING_NEW:
        # The box is shown to anyone (reading the session to hide it would
        # cost this page two queries); posting it needs the account's login.
        return render(
            request,
            "verified_email/change_old_confirmed.html",
            {"change": pending, "code_action": code_action},
        )
    if pending.status == pending.Status.SCHEDULED:
        return render(
            request,
            "verified_email/change_scheduled.html",
            {"change": pending, **_countdown(pending)},
        )
    if addresses.is_login(pending.user):
        text = _("Your email address is now %(email)s. You now sign in with %(email)s.")
    else:
        text = _("Your email address is now %(email)s.")
    messages.success(request, text % {"email": pending.new_email}, fail_silently=True)
    return success_redirect()


def _code_refused(request, error, template, context):
    """Show a page's code box again, with why the code was refused."""
    return render(
        request, template, {**context, "code_error": error.detail}, status=web.http_status(error)
    )


# A code is as good as the link it stands for: like a password, it stays
# out of error reports (the POST data and every frame's variables).
@login_not_required  # A login it asks for itself, keeping the code (_to_login_keeping_code).
@sensitive_post_parameters("code")
@sensitive_variables()
@require_http_methods(["GET", "HEAD", "POST"])
def verify_code(request):
    if not request.user.is_authenticated:
        return _to_login_keeping_code(request, "verify")
    kept = _take_kept_code(request)
    context = {
        "step": "verify",
        "email": addresses.of_user(request.user),
        "action": reverse("verified_email:verify-code"),
        "form_id": "ve-verify-code",
    }
    if request.method == "POST":
        try:
            user = flows.confirm_verification_by_code(request.user, request.POST.get("code"))
        except (InvalidCode, ExpiredCode) as error:
            return _code_refused(request, error, "verified_email/enter_code.html", context)
        except VerifiedEmailError as error:
            return error_page(request, error)
        messages.success(
            request,
            _("Your email address %(email)s is verified.") % {"email": addresses.of_user(user)},
            fail_silently=True,
        )
        return success_redirect()
    if get_store().is_verified(request.user):
        kept = None  # Verified meanwhile: no code is waiting.
    return _code_page(request, context, _kept_code_for(kept, "verify"))


@login_not_required  # As verify_code.
@sensitive_post_parameters("code")
@sensitive_variables()
# Its deny answer shows the new-password form: never framed (see change()).
@xframe_options_deny
@require_http_methods(["GET", "HEAD", "POST"])
def change_code(request):
    if not request.user.is_authenticated:
        return _to_login_keeping_code(request, "change")
    kept = _take_kept_code(request)
    action = reverse("verified_email:change-code")
    if request.method == "POST":
        try:
            if request.POST.get("deny"):
                return _deny_by_code(request)
            pending = web.confirm_change_by_code(request, request.user, request.POST.get("code"))
        except (InvalidCode, ExpiredCode) as error:
            change = flows.pending_change(request.user)
            return _code_refused(
                request, error, "verified_email/enter_code.html", _code_context(change, action)
            )
        except VerifiedEmailError as error:
            return error_page(request, error)
        return _after_change_step(request, pending, code_action=action)
    change = flows.pending_change(request.user)
    return _code_page(
        request, _code_context(change, action), _kept_code_for(kept, "change", change)
    )


@sensitive_variables()
def _deny_by_code(request):
    """Refuse the change with the old address's code ("This wasn't me"), taking the account back."""
    denied, password_token = web.confirm_deny_by_code(
        request, request.user, request.POST.get("code")
    )
    response = _taken_back_page(
        request, "verified_email/change_denied.html", denied, password_token
    )
    # The page carries the one-time password token: no cache may keep it.
    add_never_cache_headers(response)
    return response


def _code_context(change, action):
    step = None
    if change is not None:
        step = Step.OLD if change.status == change.Status.AWAITING_OLD else Step.NEW
    return {"change": change, "step": step, "action": action, "form_id": "ve-change-code"}


@sensitive_variables()
def _code_page(request, context, kept):
    """A code page's form, filled in with a code kept through the login (``kept``), if any."""
    response = render(request, "verified_email/enter_code.html", {**context, "code_value": kept})
    if kept:
        # The page now holds the code: no cache, shared or the browser's, may keep it.
        add_never_cache_headers(response)
    return response


# A code typed while logged out ----------------------------------------------
# A login can run out while its owner fetches the code from their mailbox.
# The code cannot be tried before the login: only the account it was sent for
# can use it, and a try counts against that account. It cannot travel with
# the login either: in ?next= it would reach server logs and other sites'
# Referer. So it waits in the session, which Django's login() keeps (under a
# new key) for whoever logs in in this browser; logout() ends it. The code
# page after the login fills its box in with it and only the user's click
# tries it: the code is for the account it was sent to, and for anyone else
# it is one wrong code, counted as theirs. It waits CODE_MAX_AGE at most, the
# life of any code, and is shown once.

KEPT_CODE_KEY = "verified_email_kept_code"


@sensitive_variables()
def _to_login_keeping_code(request, page, *, change_id=None):
    """The login page, then back to the ``page`` ("verify", "change") code page.

    A code the request posted waits in the session for that page;
    ``change_id`` (the change a link's page was for) binds it to that change.
    """
    if request.method == "POST":
        code = codes.normalize(request.POST.get("code"))
        request.session.pop(KEPT_CODE_KEY, None)
        if code is not None:
            request.session[KEPT_CODE_KEY] = {
                "page": page,
                "code": code,
                "at": int(timezone.now().timestamp()),
                "change": None if change_id is None else str(change_id),
            }
    return redirect_to_login(reverse(f"verified_email:{page}-code"))


def _take_kept_code(request):
    """Take what ``_to_login_keeping_code`` kept out of the session.

    Any visit to a code page after the login takes it, whether it shows it
    (``_kept_code_for``) or not: it is shown once at most.
    """
    return request.session.pop(KEPT_CODE_KEY, None)


@sensitive_variables()
def _kept_code_for(kept, page, change=None):
    """The code to fill in on ``page``, from what was kept; None if it lapsed or is not for it.

    ``change``: the account's pending change, which a code kept for a
    change's page must be waiting for.
    """
    if not isinstance(kept, dict) or kept.get("page") != page:
        return None
    age = timezone.now().timestamp() - kept.get("at", 0)
    if not 0 <= age <= app_settings.CODE_MAX_AGE:
        return None
    if page == "change":
        if change is None or change.status not in (
            change.Status.AWAITING_OLD,
            change.Status.AWAITING_NEW,
        ):
            return None
        if kept.get("change") is not None and kept["change"] != str(change.pk):
            return None
    return codes.display(kept["code"])


@login_required
@require_POST
def change_resend(request):
    try:
        pending = flows.resend_change(request.user, base_url=link_base(request))
    except VerifiedEmailError as error:
        return error_page(request, error)
    address = pending.old_email if pending.status == pending.Status.AWAITING_OLD else None
    messages.success(
        request,
        _("We sent the link again to %(email)s.") % {"email": address or pending.new_email},
        fail_silently=True,
    )
    return redirect("verified_email:status")


@login_required
@require_POST
def change_cancel(request):
    try:
        flows.cancel_change(request.user)
    except VerifiedEmailError as error:
        return error_page(request, error)
    messages.success(request, _("The email change was cancelled."), fail_silently=True)
    return redirect("verified_email:status")


# The password stays out of error reports, as on Django's own pages.
@sensitive_post_parameters("password")
@token_page
# Its answer shows the new-password form, and it takes a password: never framed (see change()).
@xframe_options_deny
@require_http_methods(["GET", "HEAD", "POST"])
def change_revert(request, token):
    """The "this wasn't me" link of a completed change: GET shows, POST undoes or schedules.

    With a password the account had (field ``password``) the change is undone
    at once and the new-password form follows; without one the revert is
    scheduled and the page says when, and points to the site's password reset.
    """
    try:
        if request.method != "POST":
            change = flows.check_revert(token)
            return render(
                request,
                "verified_email/change_revert.html",
                {
                    "change": change,
                    "revert_delay": durations.in_words(revert_wait().total_seconds()),
                },
            )
        change, password_token = web.confirm_revert(
            request, token, request.POST.get("password") or None
        )
    except VerifiedEmailError as error:
        return error_page(request, error, flow="revert")
    if password_token is None:
        return render(
            request,
            "verified_email/change_revert_scheduled.html",
            {
                "change": change,
                "revert_due_at": change.revert_due_at,
                **_password_reset_context(),
            },
        )
    return _taken_back_page(request, "verified_email/change_reverted.html", change, password_token)


def _password_reset_context():
    """Where the holder of a mailbox goes for a new password: the site's reset, or support."""
    try:
        reset_url = reverse("password_reset")
    except NoReverseMatch:
        reset_url = None
    return {"password_reset_url": reset_url, "support_url": emails.support_url()}


def _taken_back_page(request, template, change, password_token):
    """The answer to a revert or a deny: what happened, and the form for a new password.

    Without ``password_token`` (a recovery's stop) the page points to the
    site's password reset instead of a form.
    """
    if password_token is None:
        return render(request, template, {"change": change, **_password_reset_context()})
    return render(
        request,
        template,
        {
            "change": change,
            "form": SetPasswordForm(change.user),
            "password_token": password_token,
            "login_url": resolve_url(settings.LOGIN_URL),
        },
    )


# The new password stays out of error reports, as on Django's own pages.
@sensitive_post_parameters("new_password1", "new_password2")
@token_page
# A page that takes a password is never framed (see change()).
@xframe_options_deny
@require_http_methods(["GET", "HEAD", "POST"])
def change_set_password(request, token):
    """The one-time "set a new password" page given after a revert or a deny.

    The token proves the mailbox (it came from a revert or deny link, or the
    email that confirmed one); it works once, within ``LINK_MAX_AGE``.
    """
    try:
        user = flows.check_set_password(token)
        form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            flows.confirm_set_password(token, form.cleaned_data["new_password1"])
            return render(
                request,
                "verified_email/password_set.html",
                {"login_url": resolve_url(settings.LOGIN_URL)},
            )
    except VerifiedEmailError as error:
        return error_page(request, error, flow="set_password")
    return render(
        request,
        "verified_email/set_password.html",
        {"form": form, "password_token": token},
    )


@token_page
# Its answer shows the new-password form: never framed (see change()).
@xframe_options_deny
@require_http_methods(["GET", "HEAD", "POST"])
def change_stop(request, token):
    """The old address's "stop this change" link of a recovery: GET shows, POST stops."""
    try:
        if request.method != "POST":
            change = flows.check_stop(token)
            return render(request, "verified_email/change_stop.html", {"change": change})
        change = web.confirm_stop(request, token)
    except VerifiedEmailError as error:
        return error_page(request, error, flow="stop")
    # No new-password form: a lost mailbox may have changed hands (N1).
    return _taken_back_page(request, "verified_email/change_denied.html", change, None)


@token_page
@require_http_methods(["GET", "HEAD", "POST"])
def change_keep(request, token):
    """The new address's "keep the change" link of a scheduled revert: GET shows, POST keeps."""
    try:
        if request.method != "POST":
            change = flows.check_keep(token)
            return render(request, "verified_email/change_keep.html", {"change": change})
        change = flows.confirm_keep(token)
    except VerifiedEmailError as error:
        return error_page(request, error, flow="keep")
    return render(request, "verified_email/change_kept.html", {"change": change})


@token_page
def token_slash(request, token, name):
    """A link that lost its trailing slash: sent on, privately.

    Django's ``APPEND_SLASH`` would answer it with a cacheable 301 that
    carries the token and none of the headers above.
    """
    return redirect(name, token=token)
