"""The app's forms render as Django renders them, with fewer templates."""

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
