"""The admin: email changes (read-only) and a mixin for the host's user admin.

``EmailChange`` rows are the audit trail of every change: the admin shows
them but never edits them, since a hand-edited status would let a link work
(or stop working) behind the flows' back. The one way staff move a change
on is the "Complete with a written reason" action (support-assisted
recovery): it goes through ``flows.complete_by_staff``, needs the change
permission, and records who, when and why on the row.
"""

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename, get_user_model
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import flows
from .exceptions import AlreadyVerified, VerifiedEmailError
from .flows import recovery
from .models import PROFILE, EmailChange, keeps_own_state
from .stores import get_store
from .web import link_base

VERIFICATION_FIELDS = ("is_email_verified", "email_verified_at")
#: The same, read through the address store, for a user model without the mixin.
STORE_FIELDS = ("verified_email_status", "verified_email_at")


def _verification_fields():
    return VERIFICATION_FIELDS if keeps_own_state(get_user_model()) else STORE_FIELDS


class VerifiedFilter(admin.SimpleListFilter):
    """Filter users by whether their profile row holds a proved address (profile store)."""

    title = _("email verified")
    parameter_name = "verified_email"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() not in ("0", "1"):
            return queryset
        # A row whose address drifted (written past the app) still counts
        # here until verified_email_audit_addresses --fix clears it.
        held = {f"{PROFILE}__verified_address__isnull": False}
        return queryset.filter(**held) if self.value() == "1" else queryset.exclude(**held)


if TYPE_CHECKING:
    # What the mixin is mixed with: the host's user admin.
    _UserAdmin = admin.ModelAdmin
else:
    _UserAdmin = object


@admin.register(EmailChange)
class EmailChangeAdmin(admin.ModelAdmin):
    list_display = ("user", "old_email", "new_email", "status", "created_at", "closed_at")
    list_filter = ("status", "old_email_lost")
    list_select_related = ("user",)
    actions = ["complete_with_reason"]

    @admin.action(
        description=_("Complete with a written reason (support)"), permissions=["complete"]
    )
    def complete_with_reason(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, _("Select exactly one change to complete."), messages.WARNING
            )
            return None
        change = queryset.select_related("user").get()
        form = StaffCompletionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                done = recovery.complete_by_staff(
                    change.pk,
                    request.user,
                    form.cleaned_data["reason"],
                    base_url=link_base(request),
                )
            except VerifiedEmailError as error:
                self.message_user(request, error.message, messages.ERROR)
                return None
            self.message_user(request, _completed_text(done), messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/verified_email/complete_with_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Complete an email change"),
                "opts": self.model._meta,
                "change": change,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "completable": recovery.is_staff_completable(change),
                # Said before a reason is written (N6, N7, N8 of issue 25).
                "refusal": recovery.staff_refusal(request.user, change),
            },
        )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and recovery.scheduler_idle():
            self.message_user(
                request,
                _(
                    "Recoveries are due, but verified_email_complete_due has not run in the "
                    "last hour: they complete, and their reminders go out, only when it runs. "
                    "Schedule it every minute (cron, Celery beat or the tasks mode's "
                    "periodic task)."
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def has_complete_permission(self, request):
        """Staff with the change permissions on email changes and on users.

        The admin edits no email change; completing one changes a user's
        address, so it needs the right to change users as well
        (``recovery.staff_refusal`` checks the account itself).
        """
        return all(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")
            for opts in (self.model._meta, get_user_model()._meta)
        )

    def get_search_fields(self, request):
        user_model = get_user_model()
        return (
            "old_email",
            "new_email",
            f"user__{user_model.USERNAME_FIELD}",
            f"user__{user_model.get_email_field_name()}",
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _completed_text(change):
    """What staff are told once they completed, or approved, a change."""
    if change.status == EmailChange.Status.COMPLETED:
        return _("The address of %(user)s is now %(email)s.") % {
            "user": change.user,
            "email": change.new_email,
        }
    return _(
        "We sent %(email)s a new link: the address of %(user)s changes when it is used, "
        "with no other step and no wait."
    ) % {"user": change.user, "email": change.new_email}


class StaffCompletionForm(forms.Form):
    reason = forms.CharField(
        label=_("Why you complete this change"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Kept on the change for the audit, with your name and the time: for example, "
            "how the user proved who they are."
        ),
        max_length=2000,
    )


class VerifiedEmailUserAdminMixin(_UserAdmin):
    """Mix into the host's user admin, before ``UserAdmin``.

    Adds the verified flag to the list (column and filter), shows the flag and
    its date read-only on the change page (only a link proves an address), and
    adds the "Send verification link" action.
    """

    def get_list_display(self, request):
        fields = tuple(super().get_list_display(request))
        column = _verification_fields()[0]
        return fields if column in fields else (*fields, column)

    def get_list_filter(self, request):
        filters = tuple(super().get_list_filter(request))
        wanted = "is_email_verified" if keeps_own_state(get_user_model()) else VerifiedFilter
        return filters if wanted in filters else (*filters, wanted)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, *(name for name in _verification_fields() if name not in fields))

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if keeps_own_state(get_user_model()):
            return queryset
        return queryset.select_related(PROFILE)

    @admin.display(description=_("email verified"), boolean=True)
    def verified_email_status(self, obj):
        return get_store().is_verified(obj)

    @admin.display(description=_("email verified at"))
    def verified_email_at(self, obj):
        return get_store().verified_at(obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        listed = {name for _name, options in fieldsets for name in options.get("fields", ())}
        missing = tuple(name for name in _verification_fields() if name not in listed)
        if missing:
            fieldsets.append((_("Email verification"), {"fields": missing}))
        return fieldsets

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Added to whatever actions the host's class lists, not in place of them.
        actions = tuple(self.actions or ())
        if "send_verification_link" not in actions:
            self.actions = (*actions, "send_verification_link")

    @admin.action(description=_("Send verification link"), permissions=["change"])
    def send_verification_link(self, request, queryset):
        sent, already_verified = self._send_verification_to_each(request, queryset)
        if sent:
            self.message_user(
                request,
                ngettext(
                    "Sent a verification link to %(count)d user: %(users)s.",
                    "Sent a verification link to %(count)d users: %(users)s.",
                    len(sent),
                )
                % {"count": len(sent), "users": ", ".join(str(user) for user in sent)},
                messages.SUCCESS,
            )
        if already_verified:
            self.message_user(
                request,
                ngettext(
                    "Skipped %(count)d user whose address is already verified: %(users)s.",
                    "Skipped %(count)d users whose addresses are already verified: %(users)s.",
                    len(already_verified),
                )
                % {
                    "count": len(already_verified),
                    "users": ", ".join(str(user) for user in already_verified),
                },
                messages.WARNING,
            )

    def _send_verification_to_each(self, request, queryset):
        """Send each user a link; return those sent to and those already verified.

        Any other refusal is told at once, user by user.
        """
        base_url = link_base(request)
        sent = []
        already_verified = []
        for user in queryset:
            try:
                flows.send_verification(user, base_url=base_url)
            except AlreadyVerified:
                already_verified.append(user)
            except VerifiedEmailError as error:
                self.message_user(
                    request,
                    _("%(user)s: %(detail)s") % {"user": user, "detail": error.detail},
                    messages.ERROR,
                )
            else:
                sent.append(user)
        return sent, already_verified
