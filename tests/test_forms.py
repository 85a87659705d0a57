"""The app's forms render as Django renders them, with fewer templates."""

from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorList
from django.test.signals import template_rendered

from django_verified_email.forms import ChangeEmailForm, QuietErrorList
from tests.helpers import client_for


def rendered_templates(render):
    names = []

    def record(sender, template, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    try:
        html = render()
    finally:
        template_rendered.disconnect(record)
    return html, names


def test_a_form_without_errors_renders_as_djangos_without_the_error_templates():
    quiet, names = rendered_templates(
        lambda: str(ChangeEmailForm(lost_address="alice@example.com").as_div())
    )
    plain = str(ChangeEmailForm(lost_address="alice@example.com", error_class=ErrorList).as_div())

    assert quiet == plain
    assert not [name for name in names if "errors" in name]


def test_a_form_with_errors_renders_them_as_django_does():
    data = {"new_email": "not an address", "password": ""}
    quiet, names = rendered_templates(lambda: str(ChangeEmailForm(data).as_div()))
    plain = str(ChangeEmailForm(data, error_class=ErrorList).as_div())

    assert quiet == plain
    assert "errorlist" in quiet
    assert "django/forms/errors/list/ul.html" in names
    assert isinstance(ChangeEmailForm(data).errors["new_email"], QuietErrorList)


def test_the_change_page_renders_no_empty_error_list(user):
    response = client_for(user).get("/account/email/change/")

    assert response.status_code == 200
    assert not [t.name for t in response.templates if "errors" in (t.name or "")]


class LiveRegionRenderer(DjangoTemplates):
    """A host's renderer whose error list keeps an empty live region for its scripts.

    As overriding django/forms/errors/list/default.html in the project's
    templates does under FORM_RENDERER = TemplatesSetting.
    """

    def get_template(self, template_name):
        if template_name == "django/forms/errors/list/default.html":
            return self.engine.from_string(
                '<ul class="{{ error_class }}" aria-live="polite">'
                "{% for error in errors %}<li>{{ error }}</li>{% endfor %}</ul>"
            )
        return super().get_template(template_name)


def test_an_empty_error_list_renders_with_the_hosts_templates():
    quiet = ChangeEmailForm(renderer=LiveRegionRenderer())
    plain = ChangeEmailForm(renderer=LiveRegionRenderer(), error_class=ErrorList)

    assert str(plain["new_email"].errors) == '<ul class="errorlist" aria-live="polite"></ul>'
    assert str(quiet["new_email"].errors) == str(plain["new_email"].errors)
    assert quiet.as_div() == plain.as_div()
