"""The admin: email changes (read-only) and a mixin for the host's user admin.

``EmailChange`` rows are the audit trail of every change: the admin shows
them but never edits them, since a hand-edited status would let a link work
(or stop working) behind the flows' back.
"""

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import flows
from .exceptions import AlreadyVerified, VerifiedEmailError
from .models import EmailChange
from .web import link_base

VERIFICATION_FIELDS = ("is_email_verified", "email_verified_at")

if TYPE_CHECKING:
    # What the mixin is mixed with: the host's user admin.
    _UserAdmin = admin.ModelAdmin
else:
    _UserAdmin = object


@admin.register(EmailChange)
class EmailChangeAdmin(admin.ModelAdmin):
    list_display = ("user", "old_email", "new_email", "status", "created_at", "closed_at")
    list_filter = ("status",)
    list_select_related = ("user",)

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


class VerifiedEmailUserAdminMixin(_UserAdmin):
    """Mix into the host's user admin, before ``UserAdmin``.

    Adds the verified flag to the list (column and filter), shows the flag and
    its date read-only on the change page (only a link proves an address), and
    adds the "Send verification link" action.
    """

    def get_list_display(self, request):
        fields = tuple(super().get_list_display(request))
        return fields if "is_email_verified" in fields else (*fields, "is_email_verified")

    def get_list_filter(self, request):
        filters = tuple(super().get_list_filter(request))
        return filters if "is_email_verified" in filters else (*filters, "is_email_verified")

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, *(name for name in VERIFICATION_FIELDS if name not in fields))

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        listed = {name for _name, options in fieldsets for name in options.get("fields", ())}
        missing = tuple(name for name in VERIFICATION_FIELDS if name not in listed)
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
