from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

# accounts.User or auth.User, as the settings choose (settings_auth_user.py).
User = get_user_model()


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("We send a link to it: open it to verify the address."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"]
        # Addresses are compared case-insensitively, as the app does.
        if User._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account already uses this address."))
        return email
