from django import forms
from django.forms.renderers import DjangoTemplates, Jinja2
from django.forms.utils import ErrorList
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .addresses import MAX_LENGTH, normalize


class NormalizedEmailField(forms.EmailField):
    """Normalised before validation, as the flows do: a full-width at sign is an at sign."""

    def to_python(self, value):
        return normalize(super().to_python(value))


_DJANGOS_TEMPLATES = (
    None,
    ErrorList.template_name,
    ErrorList.template_name_ul,
    ErrorList.template_name_text,
)


class QuietErrorList(ErrorList):
    """Django's error list, which renders an empty list as nothing without a template.

    Django renders the error templates of every field, errors or not (two
    templates each, all printing nothing when the list is empty): on the
    change form, a third of the templates its page renders.
    """

    def render(self, template_name=None, context=None, renderer=None):
        if (
            not self
            and context is None
            and template_name in _DJANGOS_TEMPLATES
            and self.template_name in _DJANGOS_TEMPLATES
            # Django's own renderers find Django's own templates first; any
            # other (TemplatesSetting, a host's) may render something here.
            and type(renderer or self.renderer) in (DjangoTemplates, Jinja2)
        ):
            return SafeString("")
        return super().render(template_name, context, renderer)

    # Django binds these to its own render(), not to an override.
    __str__ = render
    __html__ = render


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

    def __init__(self, *args, lost_address="", **kwargs):
        kwargs.setdefault("error_class", QuietErrorList)
        super().__init__(*args, **kwargs)
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
    }
