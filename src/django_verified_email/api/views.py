"""The JSON API: thin DRF views over ``flows``.

Each view reads the body's shape, calls one flow and maps its exceptions
(``errors.handle_exception``); no rule of the flow is repeated here. Emailed
links point at the HTML confirm pages; API clients post the token to the
confirm endpoints instead, or the code from the same email.
"""

from typing import Any

from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import addresses, flows, middleware, revokers, web
from ..stores import get_store
from ..web import link_base
from . import schema
from .authentication import authentication_classes
from .errors import handle_exception
from .parsers import SmallJSONParser
from .serializers import (
    ChangeRequestSerializer,
    ConfirmSerializer,
    RevertSerializer,
    SetPasswordSerializer,
    StatusSerializer,
    TokenSerializer,
)


class VerifiedEmailAPIView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [SmallJSONParser]
    permission_classes = [IsAuthenticated]
    # OPTIONS answers 405 like any other method not listed in the contract.
    metadata_class = None

    def initialize_request(self, request, *args, **kwargs):
        # Django's own request, for the web layer and django.contrib.auth,
        # which take one: DRF's wrapper keeps it under a private name only.
        self.django_request = request
        return super().initialize_request(request, *args, **kwargs)

    def get_authenticators(self):
        # The classes named for this app (API_AUTHENTICATION_CLASSES), read at
        # request time; never the host's DRF default, which includes HTTP
        # Basic: a password check with no lockout on every endpoint.
        return [auth() for auth in authentication_classes()]

    def get_throttles(self):
        classes: list[Any] = list(api_settings.DEFAULT_THROTTLE_CLASSES)
        return [throttle() for throttle in classes]

    def get_exception_handler(self):
        return handle_exception

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers carry the account's address and state: no cache may keep them.
        add_never_cache_headers(response)
        return response


class TokenAPIView(VerifiedEmailAPIView):
    """A confirm endpoint: the token is the proof, so no login and no CSRF.

    Without authenticators DRF never enforces CSRF, so a client holding a
    session cookie for another account is not blocked either. A code is no
    such proof (it is short): a body with one is authenticated as on the
    other endpoints (``code_user``), CSRF included for a session.
    """

    permission_classes = [AllowAny]

    def get_authenticators(self):
        return []

    def get_authenticate_header(self, request):
        # Only a code is refused for want of a login: say how to log in as
        # the other endpoints do (401 with a challenge, or 403 without one).
        authenticators = VerifiedEmailAPIView.get_authenticators(self)
        if authenticators:
            return authenticators[0].authenticate_header(request)
        return None

    def code_user(self, request):
        """Return who the request is authenticated as, as the other endpoints authenticate.

        Raises ``NotAuthenticated`` (401 or 403) for an anonymous request:
        a code only works for the account it was sent to, and this says no
        more about the code than "log in first".
        """
        # DRF set the Django request's user to anonymous when this view
        # authenticated nobody; session authentication reads it from there.
        session_user = _django_session_user(self.django_request)
        if session_user is not None:
            self.django_request.user = session_user
        for authenticator in VerifiedEmailAPIView.get_authenticators(self):
            result = authenticator.authenticate(request)
            if result is not None:
                request.user, request.auth = result
                return result[0]
        raise exceptions.NotAuthenticated()

    # An error report shows the variables of every frame an error passed
    # through: below this one, they hold the token from the body.
    @method_decorator(sensitive_variables())
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)


@schema.status
class StatusView(VerifiedEmailAPIView):
    def get(self, request):
        user = request.user
        pending = flows.pending_change(user)
        # A scheduled change whose wait is over completes now, as on the page.
        closed = web.complete_if_due(
            self.django_request, pending, read_session_user=_django_session_user
        )
        if closed is not None:
            user, pending = closed.user, None
        data = StatusSerializer(
            {
                "email": addresses.of_user(user),
                "is_email_verified": get_store().is_verified(user),
                "pending_change": pending,
                "reauthentication": flows.reauthentication(user),
            }
        ).data
        return Response(data)


@schema.verify_send
class VerifySendView(VerifiedEmailAPIView):
    def post(self, request):
        flows.send_verification(request.user, base_url=link_base(request))
        return Response({"email": addresses.of_user(request.user)}, status=status.HTTP_202_ACCEPTED)


@schema.verify_confirm
class VerifyConfirmView(TokenAPIView):
    def post(self, request):
        body = ConfirmSerializer.read(request.data)
        if "code" in body:
            user = flows.confirm_verification_by_code(self.code_user(request), body["code"])
        else:
            user = flows.confirm_verification(body["token"])
        return Response(
            {"email": addresses.of_user(user), "is_email_verified": get_store().is_verified(user)}
        )


@schema.change
class ChangeView(VerifiedEmailAPIView):
    # The body carries the password: keep it out of error reports.
    @method_decorator(sensitive_variables())
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def post(self, request):
        body = ChangeRequestSerializer.read(request.data)
        lost = body["old_email_lost"]
        change = flows.request_change(
            request.user,
            body["new_email"],
            body.get("password"),
            base_url=link_base(request),
            context=web.request_context(self.django_request),
            old_email_lost=lost,
            second_factor=lost and web.passed_second_factor(self.django_request, request.user),
            second_factor_proof=web.second_factor_proof(self.django_request, body.get("otp")),
            code=body.get("code"),
        )
        return Response({"status": change.status}, status=status.HTTP_202_ACCEPTED)


@schema.change_reauth_code
class ChangeReauthCodeView(VerifiedEmailAPIView):
    """Send the code an account without a password re-authenticates with (``change/`` ``code``)."""

    def post(self, request):
        email = flows.send_reauth_code(request.user, base_url=link_base(request))
        return Response({"email": email}, status=status.HTTP_202_ACCEPTED)


@schema.change_confirm
class ChangeConfirmView(TokenAPIView):
    def post(self, request):
        body = ConfirmSerializer.read(request.data)
        if "code" in body:
            user = self.code_user(request)
            # The token that completes the change keeps working, as a
            # session that does is renewed; the user's others end with it.
            with revokers.sparing(request.auth):
                change = web.confirm_change_by_code(
                    self.django_request, user, body["code"], read_session_user=_django_session_user
                )
        else:
            change = web.confirm_change(
                self.django_request, body["token"], read_session_user=_django_session_user
            )
        return Response({"status": change.status})


def _django_session_user(django_request):
    # The confirm views authenticate nobody (the token is the proof), so DRF
    # sets request.user to anonymous; a browser client may still carry a
    # Django session: read who it is logged in as from the session itself,
    # judged as SessionEpochMiddleware would (a code is taken from it).
    return middleware.judged_session_user(django_request)


@schema.change_deny
class ChangeDenyView(TokenAPIView):
    """The old address refuses the change ("this wasn't me"): ``{"token"}`` of its link.

    Or ``{"code"}``, its email's code, from a request authenticated as the
    account (as ``change/confirm/`` takes one).
    """

    def post(self, request):
        body = ConfirmSerializer.read(request.data)
        if "code" in body:
            change, password_token = web.confirm_deny_by_code(
                self.django_request, self.code_user(request), body["code"]
            )
        else:
            change, password_token = web.confirm_deny(self.django_request, body["token"])
        return Response({"status": change.status, "password_token": password_token})


@schema.change_stop
class ChangeStopView(TokenAPIView):
    """The old address stops a recovery: ``{"token"}`` of its "stop this change" link.

    No "set a new password" token: the mailbox's holder uses the site's
    password reset (the mailbox may have changed hands).
    """

    def post(self, request):
        body = TokenSerializer.read(request.data)
        change = web.confirm_stop(self.django_request, body["token"])
        return Response({"status": change.status})


@schema.change_revert
class ChangeRevertView(TokenAPIView):
    """The "this wasn't me" link of a completed change: ``{"token", "password"}``.

    With a password the account had, the change is undone at once; without
    one (or a wrong one) the revert is scheduled (202).
    """

    # The body carries the password: keep it out of error reports.
    @method_decorator(sensitive_variables())
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def post(self, request):
        body = RevertSerializer.read(request.data)
        change, password_token = web.confirm_revert(
            self.django_request, body["token"], body.get("password") or None
        )
        if password_token is None:
            assert change.revert_due_at is not None
            return Response(
                {"status": "revert_scheduled", "completes_at": change.revert_due_at},
                status=status.HTTP_202_ACCEPTED,
            )
        return Response(
            {"status": "reverted", "email": change.old_email, "password_token": password_token}
        )


@schema.change_keep
class ChangeKeepView(TokenAPIView):
    """The new address keeps a change whose revert is scheduled: ``{"token"}`` of its link."""

    def post(self, request):
        body = TokenSerializer.read(request.data)
        flows.confirm_keep(body["token"])
        return Response({"status": "revert_cancelled"})


@schema.set_password
class SetPasswordView(TokenAPIView):
    """Set the new password after a revert or a deny: ``{"token", "new_password"}``."""

    def post(self, request):
        body = SetPasswordSerializer.read(request.data)
        flows.confirm_set_password(body["token"], body["new_password"])
        return Response({"status": "password_set"})


@schema.change_resend
class ChangeResendView(VerifiedEmailAPIView):
    def post(self, request):
        change = flows.resend_change(request.user, base_url=link_base(request))
        return Response({"status": change.status}, status=status.HTTP_202_ACCEPTED)


@schema.change_cancel
class ChangeCancelView(VerifiedEmailAPIView):
    def post(self, request):
        change = flows.cancel_change(request.user)
        return Response({"status": change.status})
