from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django_verified_email.admin import VerifiedEmailUserAdminMixin

from .models import User


@admin.register(User)
class PocketUserAdmin(VerifiedEmailUserAdminMixin, UserAdmin):
    """Django's user admin, plus the verified flag and a "send verification link" action."""
