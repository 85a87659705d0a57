"""Every API error as ``{"code", "detail"}``: the flows' errors and DRF's own.

Used as the exception handler of this package's views only, so the host's
``EXCEPTION_HANDLER`` keeps governing its other views.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..exceptions import VerifiedEmailError
from ..web import http_status
from .authentication import authentication_classes


class InvalidRequest(VerifiedEmailError):
    """The body is not a JSON object of the expected shape (API only)."""

    code = "invalid_request"
    detail = _("The request body must be a JSON object with the documented fields.")


# DRF errors that mean "the body is not what we accept": the contract answers
# every malformed body with 400, including a body that is not JSON at all
# (DRF's own answer to that is 415).
BODY_ERRORS = (
    exceptions.ParseError,
    exceptions.UnsupportedMediaType,
    exceptions.ValidationError,
)


def error_response(error):
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return Response(
        {"code": error.code, "detail": error.message},
        status=http_status(error),
        headers=headers,
    )


def _first_message(detail):
    while isinstance(detail, (dict, list)):
        if not detail:
            return ""
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail)


def handle_exception(exc, context):
    if isinstance(exc, VerifiedEmailError):
        # No rollback of the request's transaction (ATOMIC_REQUESTS): a flow
        # undoes its own writes, and what the request must keep, such as the
        # receivers of a wrong password's signals, waits for its commit. The
        # HTML pages answer these errors the same way.
        return error_response(exc)
    if isinstance(exc, BODY_ERRORS):
        set_rollback()
        return error_response(InvalidRequest(_first_message(exc.detail)))
    if isinstance(exc, exceptions.NotAuthenticated):
        exc = _saying_what_is_accepted(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    # DRF's handler adds WWW-Authenticate and Retry-After; only the body is
    # reshaped here.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    codes = exc.get_codes()
    response.data = {
        "code": codes if isinstance(codes, str) else exc.default_code,
        "detail": _first_message(exc.detail),
    }
    return response


def _saying_what_is_accepted(exc):
    """DRF's "not provided", with the authentication this API accepts.

    A client that sends a token or a JWT to an API left at session
    authentication is told "credentials were not provided", which it did
    provide: name what is read instead (``API_AUTHENTICATION_CLASSES``).
    """
    accepted = ", ".join(cls.__name__ for cls in authentication_classes())
    detail = _("Authentication credentials were not provided. This API accepts: %(accepted)s.") % {
        "accepted": accepted
    }
    # The same exception, so the status and challenge DRF's view chose for it
    # (401 with a header, or 403) stay.
    exc.detail = exceptions.ErrorDetail(str(detail), code=exc.default_code)
    return exc
