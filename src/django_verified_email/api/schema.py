"""What drf-spectacular needs to describe the API as ``openapi.yaml`` does.

The views are plain ``APIView``s that read their bodies with
``RequestSerializer.read`` and answer dicts, so drf-spectacular cannot guess
their bodies or their error answers: each view class carries one of these
decorators. drf-spectacular stays optional: without it they change nothing.
The descriptions are for developers reading the schema, like
``openapi.yaml``'s (tests/api/test_schema.py keeps the two alike).
"""

from typing import Any

from rest_framework import serializers

from .serializers import (
    ChangeRequestSerializer,
    ConfirmSerializer,
    RevertSerializer,
    SetPasswordSerializer,
    StatusSerializer,
    TokenSerializer,
)


class ErrorSerializer(serializers.Serializer):
    """Every error: ``code`` is stable, for programs; ``detail`` is for people."""

    code = serializers.CharField()
    detail = serializers.CharField()

    class Meta:
        ref_name = "VerifiedEmailError"


class EmailSentSerializer(serializers.Serializer):
    email = serializers.CharField(help_text="Where the link went.")

    class Meta:
        ref_name = "VerifiedEmailSent"


class VerifiedSerializer(serializers.Serializer):
    email = serializers.CharField()
    is_email_verified = serializers.BooleanField()

    class Meta:
        ref_name = "VerifiedEmailVerified"


class ChangeStepSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="`awaiting_old`, `awaiting_new`, `scheduled`, `completed` or `cancelled`."
    )

    class Meta:
        ref_name = "VerifiedEmailChangeStep"


class RefusedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`denied`.")
    password_token = serializers.CharField(
        help_text="Posted with a new password to `change/set-password/`."
    )

    class Meta:
        ref_name = "VerifiedEmailRefused"


class StoppedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`denied`.")

    class Meta:
        ref_name = "VerifiedEmailStopped"


class RevertScheduledSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`revert_scheduled`.")
    completes_at = serializers.DateTimeField(
        help_text="When the revert completes, unless the new address keeps the change."
    )

    class Meta:
        ref_name = "VerifiedEmailRevertScheduled"


class RevertCancelledSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`revert_cancelled`.")

    class Meta:
        ref_name = "VerifiedEmailRevertCancelled"


class RevertedSerializer(RefusedSerializer):
    status = serializers.CharField(help_text="`reverted`.")
    email = serializers.CharField(help_text="The restored address.")

    class Meta:
        ref_name = "VerifiedEmailReverted"


class PasswordSetSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`password_set`.")

    class Meta:
        ref_name = "VerifiedEmailPasswordSet"


# The error answers endpoints share (their codes are in openapi.yaml).
LOGGED_IN = {
    401: "Not logged in, with an authenticator that sends a challenge (token, basic).",
    403: "Not logged in (session authentication), or the CSRF check failed.",
}
BY_CODE_LOGGED_IN = {
    401: "A code was sent without authentication, with an authenticator that sends a challenge.",
    403: "A code was sent without authentication (session authentication), or CSRF failed.",
}
SENDS_MAIL = {503: "The mail server failed, or the task queue refused the task."}
HOST_THROTTLE = {429: "A throttle from the host's DRF settings (DEFAULT_THROTTLE_CLASSES)."}
BAD_TOKEN = {
    400: "The body is malformed, or the link is not valid.",
    410: "The link has expired; ask for a new one.",
}
BAD_TOKEN_OR_CODE = {
    400: "The body is malformed, or the link or the code is not valid.",
    410: "The link has expired, or the code no longer works.",
}


def _endpoint(
    operation_id: str,
    summary: str,
    success: tuple[int, Any, str],
    errors: dict[int, str],
    request: Any = None,
    also: tuple[int, Any, str] | None = None,
) -> Any:
    """A class decorator describing a view's one method, or nothing without drf-spectacular."""
    try:
        from drf_spectacular.utils import OpenApiResponse, extend_schema
    except ImportError:  # Not installed: nothing to describe for.
        return lambda view: view
    code, body, description = success
    responses = {code: OpenApiResponse(body, description=description)}
    if also is not None:
        # A second success answer (a revert scheduled instead of done).
        responses[also[0]] = OpenApiResponse(also[1], description=also[2])
    for status, text in sorted(errors.items()):
        responses[status] = OpenApiResponse(ErrorSerializer, description=text)
    describe = extend_schema(
        operation_id=operation_id, summary=summary, request=request, responses=responses
    )

    def decorate(view: Any) -> Any:
        # On the method, not the class: an operation id names one operation.
        for method in ("get", "post"):
            if method in vars(view):
                setattr(view, method, describe(vars(view)[method]))
        return view

    return decorate


status = _endpoint(
    "getEmailStatus",
    "The account's address, whether it is verified, and its pending change",
    (200, StatusSerializer, "The status."),
    LOGGED_IN,
)
verify_send = _endpoint(
    "sendVerification",
    "Send (or send again) the verification link",
    (202, EmailSentSerializer, "The link was sent."),
    {
        **LOGGED_IN,
        409: "Nothing to verify: already verified, or no address.",
        429: "A link was sent a moment ago.",
        **SENDS_MAIL,
    },
)
verify_confirm = _endpoint(
    "confirmVerification",
    "Verify the address with the link's token or the email's code",
    (200, VerifiedSerializer, "The address is verified."),
    {**BAD_TOKEN_OR_CODE, **BY_CODE_LOGGED_IN, **HOST_THROTTLE},
    request=ConfirmSerializer,
)
change = _endpoint(
    "requestEmailChange",
    "Ask to change the address (password required)",
    (202, ChangeStepSerializer, "The change is recorded and its first link sent."),
    {
        **LOGGED_IN,
        400: "The request was refused; nothing was recorded.",
        403: (
            "Not logged in (session authentication), the CSRF check failed, or the user has "
            "a second factor that the request neither passed nor sent (otp)."
        ),
        409: "A revert of an earlier change is scheduled.",
        410: "The re-authentication code no longer works; ask for a new one.",
        429: "Locked out after too many wrong passwords, or a link was sent a moment ago.",
        **SENDS_MAIL,
    },
    request=ChangeRequestSerializer,
)
change_reauth_code = _endpoint(
    "sendReauthenticationCode",
    "Send the code an account without a password re-authenticates with",
    (202, EmailSentSerializer, "The code was sent to the verified current address."),
    {
        **LOGGED_IN,
        400: "The account re-authenticates with its password.",
        429: "A code was sent a moment ago.",
        **SENDS_MAIL,
    },
)
change_confirm = _endpoint(
    "confirmEmailChange",
    "Confirm a step of the change with the link's token or the email's code",
    (200, ChangeStepSerializer, "The step is confirmed."),
    {
        **BAD_TOKEN_OR_CODE,
        **BY_CODE_LOGGED_IN,
        409: "Another account took the new address since the change was requested.",
        **HOST_THROTTLE,
        **SENDS_MAIL,
    },
    request=ConfirmSerializer,
)
change_resend = _endpoint(
    "resendEmailChangeLink",
    "Send the link of the current step again",
    (202, ChangeStepSerializer, "The link was sent again."),
    {
        **LOGGED_IN,
        404: "There is no pending change.",
        429: "A link was sent a moment ago.",
        **SENDS_MAIL,
    },
)
change_cancel = _endpoint(
    "cancelEmailChange",
    "Cancel the pending change",
    (200, ChangeStepSerializer, "The change is cancelled."),
    {**LOGGED_IN, 404: "There is no pending change."},
)
change_deny = _endpoint(
    "denyEmailChange",
    "The old address refuses the change (\"this wasn't me\"), by its link's token or its code",
    (200, RefusedSerializer, "The change is refused."),
    {**BAD_TOKEN_OR_CODE, **BY_CODE_LOGGED_IN, **HOST_THROTTLE},
    request=ConfirmSerializer,
)
change_stop = _endpoint(
    "stopEmailRecovery",
    "The old address stops a recovery",
    (200, StoppedSerializer, "The recovery is stopped."),
    {**BAD_TOKEN, **HOST_THROTTLE},
    request=TokenSerializer,
)
change_revert = _endpoint(
    "revertEmailChange",
    'Undo a completed change ("this wasn\'t me")',
    (200, RevertedSerializer, "The change is undone."),
    {
        **BAD_TOKEN,
        409: "An account that proved the old address holds it; only support can help.",
        **HOST_THROTTLE,
    },
    request=RevertSerializer,
    also=(202, RevertScheduledSerializer, "No password of the account: the revert waits."),
)
change_keep = _endpoint(
    "keepEmailChange",
    "The new address keeps a change whose revert is scheduled",
    (200, RevertCancelledSerializer, "The scheduled revert is cancelled."),
    {**BAD_TOKEN, **HOST_THROTTLE},
    request=TokenSerializer,
)
set_password = _endpoint(
    "setPasswordAfterTakeover",
    "Set a new password after a revert or a refusal",
    (200, PasswordSetSerializer, "The password is set."),
    {
        400: "The body is malformed, the token is not valid, or the password is refused.",
        410: "The link has expired.",
        **HOST_THROTTLE,
    },
    request=SetPasswordSerializer,
)
