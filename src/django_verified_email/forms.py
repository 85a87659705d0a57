from django import forms
from django.utils.translation import gettext_lazy as _

from .addresses import MAX_LENGTH, normalize


class NormalizedEmailField(forms.EmailField):
    """Normalised before validation, as the flows do: a full-width at sign is an at sign."""

    def to_python(self, value):
        return normalize(super().to_python(value))


class ChangeEmailForm(forms.Form):
    new_email = NormalizedEmailField(
        label=_("New email address"),
        max_length=MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("We ask for it again because changing your address is sensitive."),
    )

    def __init__(self, *args, lost_address="", by_code=False, by_second_factor=False, **kwargs):
        super().__init__(*args, **kwargs)
        if by_code:
            # No usable password (a social login): a code sent to the
            # verified current address stands in for it.
            del self.fields["password"]
            self.fields["code"] = forms.CharField(
                label=_("The code we sent to your address"),
                max_length=64,
                widget=forms.TextInput(
                    attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
                ),
                help_text=_(
                    "Your account has no password, so we send a code to your current "
                    "address instead."
                ),
            )
        elif by_second_factor:
            # No usable password, and the host allows no code: the second
            # factor's one-time password alone (``reauth_methods``).
            del self.fields["password"]
            self.fields["otp"] = forms.CharField(
                label=_("The code from your authenticator app"),
                max_length=64,
                widget=forms.TextInput(
                    attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
                ),
                help_text=_(
                    "Your account has no password, so we ask for your second factor instead."
                ),
            )
        # Offered only to a user whose verified address could approve a
        # change, and only while the recovery path is on (RECOVERY_DELAY).
        if lost_address:
            self.fields["old_email_lost"] = forms.BooleanField(
                label=_("I can no longer open %(email)s") % {"email": lost_address},
                required=False,
                help_text=_(
                    "We then send the link to the new address only, tell your current "
                    "address, and make the change after a waiting period."
                ),
            )

    # Which field shows each flow error.
    ERROR_FIELDS = {
        "invalid_email": "new_email",
        "same_email": "new_email",
        "email_taken": "new_email",
        "wrong_password": "password",
        "invalid_code": "code",
        "expired_code": "code",
        "wrong_second_factor": "otp",
    }
