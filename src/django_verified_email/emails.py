"""The messages: who gets each, with which link, from which template.

``KINDS`` is the one table of them: a row per kind says who receives it, the
link it carries (and how long it works), and the state of the change it is
due in. Building a message (``build``), deciding whether a late one is still
due, and the flows' "which status is this link's step" all read it.

Every message's context has ``site_name`` (``site_name()``); one with a link
has ``link`` and ``link_expires_in`` (words: "24 hours"), which the shared
base template writes out under the button and as text. A new kind only
fills ``subject_line`` and its content blocks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from . import addresses, codes, durations, languages, request_context, revokers, tokens
from .conf import app_settings
from .models import EmailChange
from .rendering import TemplatedEmail
from .stores import get_store
from .tokens import Step

Status = EmailChange.Status

VERIFY = "verify"
CHANGE_CONFIRM_OLD = "change_confirm_old"
CHANGE_CONFIRM_NEW = "change_confirm_new"
CHANGE_COMPLETED = "change_completed"
CHANGE_NOTICE_OLD = "change_notice_old"
EMAIL_TAKEN_NOTICE = "email_taken_notice"
# Recovery (flows/recovery.py): the old mailbox is lost.
RECOVERY_CONFIRM_NEW = "recovery_confirm_new"
RECOVERY_NOTICE_OLD = "recovery_notice_old"
RECOVERY_REMINDER = "recovery_reminder"
RECOVERY_COMPLETED_OLD = "recovery_completed_old"
RECOVERY_CANCELLED = "recovery_cancelled"
CHANGE_REVERTED_NEW = "change_reverted_new"
CHANGE_REVERTED_OLD = "change_reverted_old"
# A revert asked for without a password (flows/revert.py): it waits.
CHANGE_REVERT_KEEP = "change_revert_keep"
CHANGE_REVERT_SCHEDULED = "change_revert_scheduled"
CHANGE_DENIED_OLD = "change_denied_old"
CHANGE_DENIED_NEW = "change_denied_new"
#: The code a user without a usable password re-authenticates with.
REAUTH_CODE = "reauth_code"


def _verify_link(user: Any, change: EmailChange | None) -> str:
    token = tokens.make_verify_token(user)
    return reverse("verified_email:verify-confirm", kwargs={"token": token})


def _change_link(step: Step) -> Callable[[Any, EmailChange], str]:
    def link(user: Any, change: EmailChange) -> str:
        token = tokens.make_change_token(change, step)
        return reverse("verified_email:change-confirm", kwargs={"token": token})

    return link


def _revert_link(user: Any, change: EmailChange) -> str:
    token = tokens.make_revert_token(change)
    return reverse("verified_email:change-revert", kwargs={"token": token})


def _stop_link(user: Any, change: EmailChange) -> str:
    token = tokens.make_stop_token(change)
    return reverse("verified_email:change-stop", kwargs={"token": token})


def _keep_link(user: Any, change: EmailChange) -> str | None:
    if change.revert_scheduled_at is None or change.reverted_at is not None:
        return None  # kept or completed since: the link has no more use
    token = tokens.make_keep_token(change)
    return reverse("verified_email:change-keep", kwargs={"token": token})


def _set_password_link(user: Any, change: EmailChange) -> str | None:
    # The token is signed against the password as it is now. Built late (a
    # worker), after the owner already chose a new password on the page, it
    # would set the password once more: no link then.
    if user.has_usable_password():
        return None
    # Only the mailbox vouches for a scheduled revert and for a recovery's
    # stop, and a mailbox may have changed hands: the site's password reset
    # (which reaches it once the account is back) is its way in, not a link
    # that skips the reset's own checks.
    if change.revert_scheduled_at is not None or change.old_email_lost:
        return None
    token = tokens.make_set_password_token(user)
    return reverse("verified_email:change-set-password", kwargs={"token": token})


def _to_discarded(user: Any, change: EmailChange) -> str:
    # The address the revert took away: that of the newest change it undid
    # (the same revert marks them all with one time).
    newest = (
        EmailChange.objects.filter(
            user_id=change.user_id,
            pk__gte=change.pk,
            status=Status.COMPLETED,
            reverted_at=change.reverted_at,
        )
        .order_by("-pk")
        .values_list("new_email", flat=True)
        .first()
    )
    return newest or change.new_email


def _to_user(user: Any, change: EmailChange | None) -> str:
    return addresses.of_user(user)


def _to_old(user: Any, change: EmailChange) -> str:
    return change.old_email


def _to_new(user: Any, change: EmailChange) -> str:
    return change.new_email


def _revert_context() -> dict[str, Any]:
    return {"revert_max_age_days": max(1, app_settings.REVERT_MAX_AGE // 86400)}


def _recovery_context() -> dict[str, Any]:
    delay = app_settings.RECOVERY_DELAY
    return {"recovery_delay": durations.in_words(delay) if delay is not None else ""}


def _stop_link_max_age() -> int:
    # The message says how long the link works in words; the stop link works
    # until the change completes, at most the delay after the new address
    # confirms (the template says so).
    return app_settings.RECOVERY_DELAY or 0


def _link_max_age() -> int:
    return app_settings.LINK_MAX_AGE


def _revert_max_age() -> int:
    return app_settings.REVERT_MAX_AGE


@dataclass(frozen=True)
class Kind:
    """One kind of message."""

    #: Whose address it goes to: ``(user, change) -> address``.
    recipient: Callable[[Any, Any], str]
    #: The change status it is due in; None for the one message about the
    #: user alone (verify), due while the address is unverified. (Typed
    #: ``object``: the stubs see a choice as its (value, label) tuple.)
    due_in: object
    #: The link it carries, as a path: ``(user, change) -> path``, or None
    #: when the link has no more use (the message goes without it).
    link: Callable[[Any, Any], str | None] | None = None
    #: The change step whose link it carries (the link is for ``due_in``).
    step: Step | None = None
    #: More template context.
    context: Callable[[], dict[str, Any]] | None = None
    #: Seconds the link works, which the message states.
    link_max_age: Callable[[], int] = _link_max_age
    #: Later statuses it is still due in (sent late by a worker).
    also_due_in: tuple[object, ...] = ()
    #: The purpose of the one-time code it carries beside its link (``codes``).
    code: str | None = None
    #: Whether it is due, for a message about the user alone that is not the
    #: verification (``due_in`` is then ignored): ``(user) -> bool``.
    due: Callable[[Any], bool] | None = None
    #: It carries its code with no link (the code is the message).
    code_alone: bool = False


KINDS: dict[str, Kind] = {
    VERIFY: Kind(recipient=_to_user, due_in=None, link=_verify_link, code="verify"),
    CHANGE_CONFIRM_OLD: Kind(
        recipient=_to_old,
        due_in=Status.AWAITING_OLD,
        link=_change_link(Step.OLD),
        step=Step.OLD,
        code="change_old",
    ),
    CHANGE_CONFIRM_NEW: Kind(
        recipient=_to_new,
        due_in=Status.AWAITING_NEW,
        link=_change_link(Step.NEW),
        step=Step.NEW,
        code="change_new",
    ),
    # Sent instead of CHANGE_CONFIRM_NEW when the new address is taken. It
    # makes and stores a code it never shows: with REVEAL_TAKEN_EMAIL off it
    # must do the same database work as the message it stands in for.
    EMAIL_TAKEN_NOTICE: Kind(recipient=_to_new, due_in=Status.AWAITING_NEW, code="change_new"),
    CHANGE_COMPLETED: Kind(recipient=_to_new, due_in=Status.COMPLETED),
    CHANGE_NOTICE_OLD: Kind(
        recipient=_to_old,
        due_in=Status.COMPLETED,
        link=_revert_link,
        context=_revert_context,
        link_max_age=_revert_max_age,
    ),
    # Instead of CHANGE_CONFIRM_NEW when the old mailbox is lost: the same
    # step, the same link, and words about the wait that follows.
    RECOVERY_CONFIRM_NEW: Kind(
        recipient=_to_new,
        due_in=Status.AWAITING_NEW,
        link=_change_link(Step.NEW),
        step=Step.NEW,
        context=_recovery_context,
        code="recovery_new",
    ),
    # The old address's only say in a recovery: a "stop this change" link.
    # Still due once the change is scheduled: a worker may send it after a
    # quick confirmation of the new address, and it must not be dropped then.
    RECOVERY_NOTICE_OLD: Kind(
        recipient=_to_old,
        due_in=Status.AWAITING_NEW,
        also_due_in=(Status.SCHEDULED,),
        link=_stop_link,
        context=_recovery_context,
        link_max_age=_stop_link_max_age,
    ),
    RECOVERY_REMINDER: Kind(
        recipient=_to_old, due_in=Status.SCHEDULED, link=_stop_link, link_max_age=_stop_link_max_age
    ),
    # No "this wasn't me" link: the owner had the whole wait to stop it, and
    # a lost mailbox may be someone else's by now (a recycled address).
    RECOVERY_COMPLETED_OLD: Kind(recipient=_to_old, due_in=Status.COMPLETED),
    RECOVERY_CANCELLED: Kind(recipient=_to_new, due_in=Status.CANCELLED),
    # After a revert: the address it took away hears that it did, the
    # restored one gets a "set a new password" link.
    CHANGE_REVERTED_NEW: Kind(recipient=_to_discarded, due_in=Status.COMPLETED),
    CHANGE_REVERTED_OLD: Kind(recipient=_to_old, due_in=Status.COMPLETED, link=_set_password_link),
    # A scheduled revert: the address it would take away may keep the
    # change; the old one hears when the revert completes.
    CHANGE_REVERT_KEEP: Kind(
        recipient=_to_user,
        due_in=Status.COMPLETED,
        link=_keep_link,
        link_max_age=_stop_link_max_age,
    ),
    CHANGE_REVERT_SCHEDULED: Kind(recipient=_to_old, due_in=Status.COMPLETED),
    # After a deny ("this wasn't me" at the old-address step).
    CHANGE_DENIED_OLD: Kind(recipient=_to_old, due_in=Status.DENIED, link=_set_password_link),
    CHANGE_DENIED_NEW: Kind(recipient=_to_new, due_in=Status.DENIED),
    # A user who has no password (a social login) re-authenticates with a
    # code sent to the verified address they have now.
    REAUTH_CODE: Kind(
        recipient=_to_user,
        due_in=None,
        due=codes.may_reauthenticate_by_code,
        code=codes.REAUTH,
        code_alone=True,
    ),
}

#: The status a change must be in for a link of each step to work.
STEP_STATUS: dict[Step, object] = {kind.step: kind.due_in for kind in KINDS.values() if kind.step}


#: The name Django's sites framework gives the site it creates: no name to show.
PLACEHOLDER_SITE_NAME = "example.com"


def site_name(base_url: str | None = None) -> str:
    """Return the name emails call the site by, or "" for none ("your account").

    In order: the ``SITE_NAME`` setting; the current site's name when
    ``django.contrib.sites`` is installed, ``SITE_ID`` names one and it is not
    Django's placeholder ``example.com``; the host of ``base_url``, unless it
    is an IP address or ``localhost`` (a development server: "your 127.0.0.1
    account" names nothing the reader knows).
    """
    if app_settings.SITE_NAME:
        return str(app_settings.SITE_NAME)
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        try:
            # Cached by the framework after the first read.
            name = Site.objects.get_current().name
        except (ImproperlyConfigured, Site.DoesNotExist):
            name = ""  # no SITE_ID: the current site needs a request
        if name and name != PLACEHOLDER_SITE_NAME:
            return name
    host = urlsplit(base_url or "").hostname or ""
    return "" if _is_local(host) else host


def _is_local(host: str) -> bool:
    """Return whether ``host`` (no port, no brackets) is an IP address or ``localhost``."""
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def support_url() -> str | None:
    """Return where dead ends send people (``SUPPORT_URL``, a URL or URL name), or None."""
    if not app_settings.SUPPORT_URL:
        return None
    return resolve_url(app_settings.SUPPORT_URL)


def template_name(kind: str) -> str:
    return f"verified_email/email/{kind}.html"


def _absolute(base_url: str | None, path: tokens.Secret) -> tokens.Secret:
    if not base_url:
        # A link in an email must be absolute, and outside a request (a
        # signup hook, a shell, a worker) there is no host to take it from.
        raise ImproperlyConfigured(
            "django_verified_email cannot build a link without a host: set "
            "VERIFIED_EMAIL['BASE_URL'] or pass base_url= to the flow."
        )
    return base_url.rstrip("/") + path


def _still_due(kind: Kind, user: Any, change: EmailChange | None) -> bool:
    """Return whether the message still makes sense now (a worker may send it late)."""
    if not user.is_active:
        return False
    if kind.due is not None:
        return kind.due(user)
    if kind.due_in is None:
        return bool(addresses.of_user(user)) and not get_store().is_verified(user)
    return change is not None and (
        change.status == kind.due_in or change.status in kind.also_due_in
    )


#: ``build``'s ``code`` when none was made ahead: it makes the code itself.
NOT_ISSUED = object()


def issue_code(kind: str, change: EmailChange) -> str | object | None:
    """Make the code of a change message ahead of ``build``, in the flow's transaction.

    In ``"sync"`` mode the message is built right after the commit from the
    rows the flow wrote, so its code can be stored in that same transaction
    instead of one of its own (a commit less per link email). Returns the
    code, None when the message is not due (nothing stored), or
    ``NOT_ISSUED`` for a kind without a code. Every flow that queues a
    message with a code holds the user's row already, taken before the
    change's, and created or locked the change's row: the state checked here
    is the one that commits.
    """
    row = KINDS[kind]
    if row.code is None:
        return NOT_ISSUED
    if not _still_due(row, change.user, change):
        return None
    return tokens.Secret.of(codes.issue(row.code, change.user, change=change, locked=True))


def build(
    kind: str,
    *,
    user_id: Any,
    change_id: int | None = None,
    base_url: str | None = None,
    change: EmailChange | None = None,
    code: str | object | None = NOT_ISSUED,
) -> TemplatedEmail | None:
    """Return the message to send, or None when it is no longer due.

    Links are signed and codes made here, at send time, so a queued message
    never carries a token or a code and always carries the newest of its step. ``change``: the
    row (with its user) as a flow just committed it, instead of reading it;
    ``code``: its code as ``issue_code`` made it in that flow's transaction.
    Built in the language its text comes out in (``languages``): its dates,
    ``lang`` and ``dir`` follow the text.
    """
    with languages.as_rendered():
        return _build(
            kind, user_id=user_id, change_id=change_id, base_url=base_url, change=change, code=code
        )


def _build(
    kind: str,
    *,
    user_id: Any,
    change_id: int | None,
    base_url: str | None,
    change: EmailChange | None,
    code: str | object | None,
) -> TemplatedEmail | None:
    row = KINDS.get(kind)
    if row is None:
        raise ValueError(f"Unknown email kind: {kind}")
    user: Any
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
    if user is None or not _still_due(row, user, change):
        return None
    if code is NOT_ISSUED:
        code = None
        if row.code is not None:
            # Made now, as the link is signed now: the plaintext never waits in
            # a queue. None when the step moved on since the check above.
            code = tokens.Secret.of(codes.issue(row.code, user, change=change))
            if code is None:
                return None
    elif code is None:
        return None  # not due when the flow made the codes
    # Outside a request (a command, a worker) the host the change was
    # requested from stands in for the request's.
    base_url = app_settings.BASE_URL or base_url or (change.link_base if change else None)
    context = {
        "user": user,
        "change": change,
        "link_max_age": app_settings.LINK_MAX_AGE,
        "link_max_age_hours": max(1, app_settings.LINK_MAX_AGE // 3600),
        "base_url": base_url,
        "site_name": site_name(base_url),
        "support_url": support_url(),
        "email_is_login": addresses.is_login(user),
        # Read from the row, so a worker has it too: tasks carry ids only.
        "request_context": request_context.for_email(change, user),
        # The same, of the request that refused the change (a deny, a revert).
        "refusal_context": request_context.refusal_for_email(change, user),
    }
    if change is not None:
        context["masked_new_email"] = addresses.masked(change.new_email)
        # Second-factor device types a take-back had to keep (revokers.py).
        context["devices_kept"] = revokers.kept_names(change.devices_kept.split())
        if change.reverted_at is not None:
            context["reverted_at_text"] = request_context.when_text(change.reverted_at, user)
        if change.revert_due_at is not None and change.reverted_at is None:
            context["revert_due_at_text"] = request_context.when_text(change.revert_due_at, user)
            left = (change.revert_due_at - timezone.now()).total_seconds()
            context["completes_in"] = durations.in_words(max(1, left))
        elif change.completes_at is not None:
            # A scheduled recovery: how long until it completes, in words.
            left = (change.completes_at - timezone.now()).total_seconds()
            context["completes_in"] = durations.in_words(max(1, left))
    # Links and codes stay ``Secret`` in every variable from here on, the
    # rendering's included: an error tracker records them all (tokens.Secret).
    path = tokens.Secret.of(row.link(user, change)) if row.link is not None else None
    code = tokens.Secret.of(code)
    if path is not None:
        context["link"] = _absolute(base_url, path)
        context["link_expires_in"] = durations.in_words(row.link_max_age())
        # A stop link works until its change completes: say when that is.
        context.setdefault("completes_in", context["link_expires_in"])
    if code is not None and (row.link is not None or row.code_alone):
        context["code"] = code
        context["code_alone"] = row.code_alone
        context["code_max_age_minutes"] = max(1, app_settings.CODE_MAX_AGE // 60)
    if row.context is not None:
        context.update(row.context())
    message = TemplatedEmail(template_name=template_name(kind), context=context)
    # In ASCII form: Django's mail layer would convert a Unicode domain with
    # IDNA 2003, which sends "straße.de" mail to "strasse.de" (addresses).
    message.to = [addresses.ascii_form(row.recipient(user, change))]
    message.from_email = settings.DEFAULT_FROM_EMAIL
    message.render()
    # Whom it was built for (the rendered message keeps no context).
    message.user = user
    return message
