"""Small steps the API tests share: each one acts through the public JSON surface."""

import json

from django.contrib.auth import get_user_model
from django.urls import reverse

from django_verified_email.models import EmailChange

from ..conftest import PASSWORD, link_in, path_of


def url(name):
    return reverse(f"verified_email_api:{name}")


def call(client, name, body=None, *, method="post", **extra):
    """Call an endpoint with a JSON body (a dict or list) or raw text (a str)."""
    if method in ("get", "head"):
        return getattr(client, method)(url(name), **extra)
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    content_type = extra.pop("content_type", "application/json")
    return getattr(client, method)(url(name), body or "", content_type=content_type, **extra)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "detail"}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"]
    return body


def token_in(message, to=None):
    """The token of a message's one link, which points at an HTML confirm page."""
    if to is not None:
        assert message.to == [to], message.to
    link = path_of(link_in(message))
    assert link.startswith(("/account/email/verify/", "/account/email/change/confirm/")), link
    return link.rstrip("/").rsplit("/", 1)[-1]


def request_change(client, new_email="alice.new@example.com", password=PASSWORD):
    return call(client, "change", {"new_email": new_email, "password": password})


def confirm_change(client, token):
    return call(client, "change-confirm", {"token": token})


def snapshot():
    """The rows a refused request must leave as they were."""
    user_model = get_user_model()
    users = list(
        user_model.objects.order_by("pk").values_list(
            "pk", user_model.EMAIL_FIELD, "is_email_verified", "email_verified_at", "password"
        )
    )
    changes = list(
        EmailChange.objects.order_by("pk").values_list(
            "pk", "status", "link_generation", "link_sent_at"
        )
    )
    return users, changes
