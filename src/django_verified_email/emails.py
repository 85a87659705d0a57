"""The six messages: who gets each, with which link, from which template."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from . import tokens
from .conf import app_settings
from .models import EmailChange
from .rendering import TemplatedEmail

VERIFY = "verify"
CHANGE_CONFIRM_OLD = "change_confirm_old"
CHANGE_CONFIRM_NEW = "change_confirm_new"
CHANGE_COMPLETED = "change_completed"
CHANGE_NOTICE_OLD = "change_notice_old"
EMAIL_TAKEN_NOTICE = "email_taken_notice"

KINDS = (
    VERIFY,
    CHANGE_CONFIRM_OLD,
    CHANGE_CONFIRM_NEW,
    CHANGE_COMPLETED,
    CHANGE_NOTICE_OLD,
    EMAIL_TAKEN_NOTICE,
)


def template_name(kind):
    return f"verified_email/email/{kind}.html"


def _absolute(base_url, path):
    if not base_url:
        # A link in an email must be absolute, and outside a request (a
        # signup hook, a shell, a worker) there is no host to take it from.
        raise ImproperlyConfigured(
            "django_verified_email cannot build a link without a host: set "
            "VERIFIED_EMAIL['BASE_URL'] or pass base_url= to the flow."
        )
    return base_url.rstrip("/") + path


def _change_link(change, step, base_url):
    token = tokens.make_change_token(change, step)
    return _absolute(base_url, reverse("verified_email:change-confirm", kwargs={"token": token}))


def _revert_link(change, base_url):
    token = tokens.make_revert_token(change)
    return _absolute(base_url, reverse("verified_email:change-revert", kwargs={"token": token}))


def _verify_link(user, base_url):
    token = tokens.make_verify_token(user)
    return _absolute(base_url, reverse("verified_email:verify-confirm", kwargs={"token": token}))


def _current_address(user):
    return getattr(user, user.get_email_field_name(), "") or ""


def _still_due(kind, user, change):
    """Whether the message still makes sense now (a worker may send it late)."""
    if not user.is_active:
        return False
    if kind == VERIFY:
        return bool(_current_address(user)) and not user.is_email_verified
    if change is None:
        return False
    if kind == CHANGE_CONFIRM_OLD:
        return change.status == EmailChange.Status.AWAITING_OLD
    if kind in (CHANGE_CONFIRM_NEW, EMAIL_TAKEN_NOTICE):
        return change.status == EmailChange.Status.AWAITING_NEW
    return change.status == EmailChange.Status.COMPLETED


def build(kind, *, user_id, change_id=None, base_url=None, change=None):
    """The message to send, or None when it is no longer due.

    Links are signed here, at send time, so a queued message never carries a
    token and always carries the newest link of its step. ``change``: the
    row (with its user) as a flow just committed it, instead of reading it.
    """
    if change is not None:
        user = change.user
    elif change_id is None:
        user = get_user_model()._default_manager.filter(pk=user_id).first()
    else:
        # One query for both: signing a change link reads change.user too.
        change = (
            EmailChange.objects.select_related("user").filter(pk=change_id, user_id=user_id).first()
        )
        user = change.user if change is not None else None
    if user is None or not _still_due(kind, user, change):
        return None
    base_url = app_settings.BASE_URL or base_url
    context = {
        "user": user,
        "change": change,
        "link_max_age": app_settings.LINK_MAX_AGE,
        "link_max_age_hours": max(1, app_settings.LINK_MAX_AGE // 3600),
        "base_url": base_url,
        "site_name": urlsplit(base_url or "").hostname or "",
    }
    if kind == VERIFY:
        recipient = _current_address(user)
        context["link"] = _verify_link(user, base_url)
    elif kind == CHANGE_CONFIRM_OLD:
        recipient = change.old_email
        context["link"] = _change_link(change, "old", base_url)
    elif kind == CHANGE_CONFIRM_NEW:
        recipient = change.new_email
        context["link"] = _change_link(change, "new", base_url)
    elif kind in (CHANGE_COMPLETED, EMAIL_TAKEN_NOTICE):
        recipient = change.new_email
    elif kind == CHANGE_NOTICE_OLD:
        recipient = change.old_email
        context["link"] = _revert_link(change, base_url)
        context["revert_max_age_days"] = max(1, app_settings.REVERT_MAX_AGE // 86400)
    else:
        raise ValueError(f"Unknown email kind: {kind}")
    message = TemplatedEmail(template_name=template_name(kind), context=context)
    message.to = [recipient]
    message.from_email = settings.DEFAULT_FROM_EMAIL
    message.render()
    return message
