"""The errors a flow can end in: one type per error code of the public contract.

Front ends map them: the HTML views to form errors and pages, the API to
``{"code", "detail"}`` bodies with ``status``.
"""

from django.utils.translation import gettext_lazy as _


class VerifiedEmailError(Exception):
    code = "error"
    status = 400
    detail = _("The request could not be completed.")

    def __init__(self, detail=None, *, retry_after=None, status=None):
        if detail is not None:
            self.detail = detail
        if status is not None:
            self.status = status
        self.retry_after = retry_after
        super().__init__(str(self.detail))


class InvalidToken(VerifiedEmailError):
    code = "invalid_token"
    detail = _("This link is not valid. It may have been used already or replaced by a newer one.")


class ExpiredToken(VerifiedEmailError):
    code = "expired_token"
    status = 410
    detail = _("This link has expired. Ask for a new one.")


class AlreadyVerified(VerifiedEmailError):
    code = "already_verified"
    status = 409
    detail = _("Your email address is already verified.")


class NoEmail(VerifiedEmailError):
    code = "no_email"
    status = 409
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


class WrongPassword(VerifiedEmailError):
    code = "wrong_password"
    detail = _("Your password was entered incorrectly.")


class LockedOut(VerifiedEmailError):
    code = "locked_out"
    status = 429
    detail = _("Too many wrong passwords. Try again later.")


class Throttled(VerifiedEmailError):
    code = "throttled"
    status = 429
    detail = _("A link was sent a moment ago. Wait a little before asking for another.")


class NoPendingChange(VerifiedEmailError):
    code = "no_pending_change"
    status = 404
    detail = _("There is no email change in progress.")


class DeliveryFailed(VerifiedEmailError):
    code = "delivery_failed"
    status = 503
    detail = _(
        "We could not send the email just now. Your request is saved: "
        "try sending the link again in a moment."
    )

    def __init__(self, detail=None, *, change=None, **kwargs):
        super().__init__(detail, **kwargs)
        #: Set when the change completed and only its notices failed.
        self.change = change
