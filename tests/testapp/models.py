from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower, NullIf

from django_verified_email.models import VerifiedEmailMixin, VerifiedEmailQuerySetMixin


class UserQuerySet(VerifiedEmailQuerySetMixin, models.QuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    def create_user(self, username, password=None, **fields):
        user = self.model(username=username, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **fields):
        return self.create_user(username, password, is_staff=True, is_superuser=True, **fields)


class User(VerifiedEmailMixin, AbstractBaseUser, PermissionsMixin):
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
