"""The errors a flow can end in: one type per error code of the public contract.

They say what went wrong, not how to answer it: no HTTP here. Front ends map
them (``web.http_status``): the HTML views to form errors and pages, the API
to ``{"code", "detail"}`` bodies.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from .durations import try_again_in


class VerifiedEmailError(Exception):
    code = "error"
    detail: str | Promise = _("The request could not be completed.")

    def __init__(self, detail: str | Promise | None = None, *, retry_after: int | None = None):
        if detail is not None:
            self.detail = detail
        #: Seconds until trying again can succeed (lockouts, cooldowns).
        self.retry_after = retry_after
        super().__init__(str(self.detail))

    @property
    def message(self) -> str:
        """Return the detail, with how long to wait when a wait would help."""
        if not self.retry_after:
            return str(self.detail)
        return f"{self.detail} {try_again_in(self.retry_after)}"


class InvalidToken(VerifiedEmailError):
    code = "invalid_token"
    detail = _(
        "This link is not valid. It may have been used already, cancelled, "
        "or replaced by a newer one."
    )


class ExpiredToken(VerifiedEmailError):
    code = "expired_token"
    detail = _("This link has expired. Ask for a new one.")


class InvalidCode(VerifiedEmailError):
    code = "invalid_code"
    detail = _("This code is not right. Check it and try again.")


class ExpiredCode(VerifiedEmailError):
    """The code expired, was replaced by a newer one, was used, or wrong tries used it up."""

    code = "expired_code"
    detail = _(
        "This code no longer works: it has expired or a newer one was sent. "
        "Ask for a new one, or use the link in the email."
    )


class AlreadyVerified(VerifiedEmailError):
    code = "already_verified"
    detail = _("Your email address is already verified.")


class NoEmail(VerifiedEmailError):
    code = "no_email"
    detail = _("Your account has no email address to verify. Add one first.")


class InvalidEmail(VerifiedEmailError):
    code = "invalid_email"
    detail = _("Enter a valid email address.")


class SameEmail(VerifiedEmailError):
    code = "same_email"
    detail = _("This is already your email address.")


class EmailTaken(VerifiedEmailError):
    code = "email_taken"
    detail = _("This email address is already used by another account.")


class EmailTakenMeanwhile(EmailTaken):
    """The address was free when the change began, and another account took it since.

    A conflict with the account's state rather than bad input: the request
    was right when it was made.
    """


class WrongPassword(VerifiedEmailError):
    code = "wrong_password"
    detail = _("Your password was entered incorrectly.")
    #: The detail while tries are left (said before the lockout, not only once it happened).
    tries_left = ngettext_lazy(
        "Your password was entered incorrectly. %(count)d try left.",
        "Your password was entered incorrectly. %(count)d tries left.",
        "count",
    )

    def __init__(
        self,
        detail: str | Promise | None = None,
        *,
        attempts_left: int | None = None,
        **kwargs: Any,
    ):
        if detail is None and attempts_left is not None:
            detail = self.tries_left % {"count": attempts_left}
        super().__init__(detail, **kwargs)
        #: Wrong passwords still allowed before the lockout.
        self.attempts_left = attempts_left


class SecondFactorRequired(VerifiedEmailError):
    """The user has a second factor that this request neither passed nor sent (``otp``)."""

    code = "second_factor_required"
    detail = _(
        "Your account has a second factor: pass it before you change your email address, "
        "or send its one-time password with the request."
    )


class WrongSecondFactor(WrongPassword):
    """The request's one-time password (``otp``) is not right; counts as a wrong password."""

    code = "wrong_second_factor"
    detail = _("Your one-time password is not right.")
    tries_left = ngettext_lazy(
        "Your one-time password is not right. %(count)d try left.",
        "Your one-time password is not right. %(count)d tries left.",
        "count",
    )


class PasswordRequired(VerifiedEmailError):
    """A re-authentication code was asked for by an account that uses its password."""

    code = "password_required"
    detail = _("Your account has a password: use it to confirm it's you.")


class ReauthenticationUnavailable(VerifiedEmailError):
    """An account without a password that has no way allowed to re-authenticate without one.

    The host allows neither a code to the current address nor the user's
    second factor alone (``reauth_methods``), or the user has none of them.
    """

    code = "reauthentication_unavailable"
    detail = _(
        "Your account has no password, and no other way to confirm it's you is available "
        "here. Set a password first, or contact support."
    )


class RecoveryNeedsPassword(VerifiedEmailError):
    """A recovery asked by an account without a password and without an accepted ``otp``."""

    code = "recovery_needs_password"
    detail = _(
        "Your account has no password, and a code sent to an address you can no longer "
        "open proves nothing. Set a password first, or use your second factor, or contact "
        "support."
    )


class LockedOut(VerifiedEmailError):
    code = "locked_out"
    detail = _("Too many wrong passwords.")


class RevertPending(VerifiedEmailError):
    code = "revert_pending"
    detail = _(
        "A change of your address is being undone. You can change it again once that is done."
    )


class Throttled(VerifiedEmailError):
    code = "throttled"
    detail = _("We sent you a link a moment ago.")


class RecoveryDisabled(VerifiedEmailError):
    code = "recovery_disabled"
    detail = _(
        "Changing your address without access to your current one is not available here. "
        "Please contact support."
    )


class ReasonRequired(VerifiedEmailError):
    """Staff completing a change from the admin gave no reason (admin only)."""

    code = "reason_required"
    detail = _("Write down why you complete this change.")


class StaffRefused(VerifiedEmailError):
    """Staff may not complete this change from the admin (admin only); ``detail`` says why."""

    code = "staff_refused"
    detail = _("You cannot complete this change.")


class InvalidPassword(VerifiedEmailError):
    """The new password was refused by the password validators (``detail`` says why)."""

    code = "invalid_password"
    detail = _("This password is not accepted. Choose another one.")


class NoPendingChange(VerifiedEmailError):
    code = "no_pending_change"
    detail = _("There is no email change in progress.")


class DeliveryFailed(VerifiedEmailError):
    code = "delivery_failed"
    detail = _(
        "We could not send the email just now. Your request is saved: "
        "try sending the link again in a moment."
    )

    def __init__(self, detail: str | Promise | None = None, *, change: Any = None, **kwargs: Any):
        super().__init__(detail, **kwargs)
        #: Set when the change completed and only its notices failed.
        self.change = change
