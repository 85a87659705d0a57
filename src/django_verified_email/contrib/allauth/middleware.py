"""The guards: allauth's own ways to change the address go through the dual-link flow.

allauth offers no hook that can refuse adding an address or making another
one primary (its ``email_added`` / ``email_changed`` signals are sent after
the write and cannot veto it; its adapter is not asked before
``set_as_primary``), so the bridge ships this middleware. It answers before
allauth's view runs:

- the email page (URL name ``account_email``): a POST with ``action_add`` or
  ``action_primary`` from a signed-in user is sent to this app's change form
  (``verified_email:change``) with a message. Removing a secondary address
  (``action_remove``) and resending its verification (``action_send``) pass.
- the headless email endpoint (URL name ``manage_email`` in allauth's
  ``headless`` namespace, browser and app clients): ``POST`` (add) and
  ``PATCH`` (make primary) answer 409 in allauth's error shape. ``DELETE``
  (remove), ``PUT`` (resend) and ``GET`` pass.

It also keeps the current request for the receivers (receivers.py), which
send allauth's signals with it, as allauth does.
"""

from collections.abc import Callable
from contextvars import ContextVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

#: The request being answered, for the receivers; None outside a request.
_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "verified_email_allauth_request", default=None
)

#: The headless error ``code`` of a refused add or make-primary.
CHANGE_REQUIRED = "email_change_required"


def current_request() -> HttpRequest | None:
    """Return the request this middleware is answering, or None (a command, a worker)."""
    return _current_request.get()


class AllauthGuardMiddleware:
    """Send allauth's add and make-primary actions to the dual-link flow.

    Goes after ``AuthenticationMiddleware`` and ``MessageMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None:
            return None
        if match.url_name == "account_email" and _is_page_bypass(request):
            messages.info(
                request,
                _(
                    "To use another email address, change it here: your current "
                    "address confirms the change first."
                ),
                # Without MessageMiddleware the redirect alone still guards.
                fail_silently=True,
            )
            return HttpResponseRedirect(reverse("verified_email:change"))
        if (
            match.url_name == "manage_email"
            and match.namespaces[:1] == ["headless"]
            and _is_headless_bypass(request, client=match.namespaces[1:2])
        ):
            return _headless_refusal()
        return None


def _is_page_bypass(request: HttpRequest) -> bool:
    """Return whether a POST to allauth's email page adds an address or changes the primary."""
    return (
        request.method == "POST"
        and request.user.is_authenticated
        and ("action_add" in request.POST or "action_primary" in request.POST)
    )


def _is_headless_bypass(request: HttpRequest, *, client: list[str]) -> bool:
    """Return whether a headless request adds an address or changes the primary.

    ``PATCH`` (make primary) is refused whoever asks: allauth answers it 401
    without a signed-in user anyway. ``POST`` (add) without a signed-in user
    is allauth's sign-up stage correcting a mistyped, unverified address
    (``ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE``), which changes no proven
    address. The app client signs its user in inside allauth's view, after
    this middleware, from the ``X-Session-Token`` header: a POST that carries
    one is refused, so that stage is not available to app clients.
    """
    if request.method == "PATCH":
        return True
    if request.method != "POST":
        return False
    if request.user.is_authenticated:
        return True
    return client == ["app"] and "X-Session-Token" in request.headers


def _headless_refusal() -> JsonResponse:
    # allauth's headless error shape: {"status", "errors": [{"message", "code", "param"}]}.
    response = JsonResponse(
        {
            "status": 409,
            "errors": [
                {
                    "message": _(
                        "Email addresses are changed through the email change flow: "
                        "your current address confirms the change first."
                    ),
                    "code": CHANGE_REQUIRED,
                    "param": "email",
                }
            ],
        },
        status=409,
    )
    add_never_cache_headers(response)
    return response
