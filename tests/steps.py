"""Small steps the core tests share: each one acts through the public HTML surface."""

from django.urls import reverse

from .conftest import PASSWORD, link_in, path_of


def url(name, **kwargs):
    return reverse(f"verified_email:{name}", kwargs=kwargs or None)


def request_change(client, new_email, password=PASSWORD, **extra):
    return client.post(url("change"), {"new_email": new_email, "password": password}, **extra)


def send_verification(client, **extra):
    return client.post(url("verify-send"), **extra)


def link_path(message, to=None):
    """The path of the one link in ``message``, checking who it went to."""
    if to is not None:
        assert message.to == [to], message.to
    return path_of(link_in(message))


def no_cooldown(settings, **more):
    """Settings for tests that send several links in a row."""
    settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, **more}
