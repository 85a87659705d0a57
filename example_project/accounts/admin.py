from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django_verified_email.admin import VerifiedEmailUserAdminMixin


class PocketUserAdmin(VerifiedEmailUserAdminMixin, UserAdmin):
    """Django's user admin, plus the verified flag and a "send verification link" action."""


# On auth.User, django.contrib.auth (listed before this app) registered its
# own admin for the model first: this one takes its place.
User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PocketUserAdmin)
