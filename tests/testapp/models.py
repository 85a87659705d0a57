import os

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower, NullIf

from django_verified_email import mark_email_verified
from django_verified_email.models import (
    VerifiedEmailMixin,
    VerifiedEmailProfile,
    VerifiedEmailQuerySetMixin,
)

#: VE_TEST_STORE=profile runs the suite with a user model without the mixin
#: (the profile store); its table is then made from the model, not migrations.
PROFILE_STORE = os.environ.get("VE_TEST_STORE") == "profile"
STATE = () if PROFILE_STORE else (VerifiedEmailMixin,)


class UserQuerySet(VerifiedEmailQuerySetMixin, models.QuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    def create_user(self, username, password=None, **fields):
        verified = fields.pop("is_email_verified", False) if PROFILE_STORE else False
        verified_at = fields.pop("email_verified_at", None) if PROFILE_STORE else None
        user = self.model(username=username, **fields)
        user.set_password(password)
        user.save(using=self._db)
        if verified:
            mark_email_verified(user)
        if verified_at is not None:
            # Verified once, cleared since (the mixin's flag off, its date kept).
            VerifiedEmailProfile.objects.update_or_create(
                user=user, defaults={"verified_at": verified_at}
            )
            return self.get(pk=user.pk)
        return user

    def create_superuser(self, username, password=None, **fields):
        return self.create_user(username, password, is_staff=True, is_superuser=True, **fields)


class User(*STATE, AbstractBaseUser, PermissionsMixin):  # type: ignore[misc]
    """The test suite's user model.

    The address lives in ``email_address``, not ``email``, on purpose: any code
    that assumes ``user.email`` instead of ``EMAIL_FIELD`` fails the suite.
    """

    username = models.CharField(max_length=150, unique=True)
    email_address = models.EmailField(max_length=254, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    # The quickstart's MariaDB and MySQL recipe (they cannot build the Lower()
    # constraint below): the folded address, NULL when blank, uniquely indexed.
    email_lower = models.GeneratedField(
        expression=NullIf(Lower("email_address"), models.Value("")),
        output_field=models.CharField(max_length=254, null=True),
        db_persist=True,
    )

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email_address"
    REQUIRED_FIELDS = ["email_address"]

    objects = UserManager()

    class Meta:
        # The quickstart's recipes: the flows' "address taken?" lookups use
        # the first constraint's index where the database builds it
        # (PostgreSQL, SQLite), the second's on MariaDB; the PostgreSQL and
        # MariaDB suites check they do.
        constraints = [
            models.UniqueConstraint(
                Lower("email_address"),
                condition=~models.Q(email_address=""),
                name="testapp_user_email_unique_ci",
                violation_error_code="email_taken",
                violation_error_message="This email address is already used by another account.",
            ),
            models.UniqueConstraint(
                fields=["email_lower"],
                name="testapp_user_email_lower_unique",
                violation_error_code="email_taken",
                violation_error_message="This email address is already used by another account.",
            ),
        ]


class PlainUser(AbstractBaseUser):
    """A user model without the mixin, for the system check."""

    username = models.CharField(max_length=150, unique=True)
    USERNAME_FIELD = "username"
