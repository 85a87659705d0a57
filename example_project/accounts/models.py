from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_verified_email.models import VerifiedEmailMixin


class User(VerifiedEmailMixin, AbstractUser):
    """Pocket Wallet's user: Django's usual user plus a verified address."""

    class Meta(AbstractUser.Meta):
        constraints = [
            # One account per address, in any case: the database backs up the
            # app's own checks against every other path (admin, imports). Its
            # index also serves the app's "address taken?" lookups.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_code="email_taken",
                violation_error_message=_("This email address is already used by another account."),
            ),
        ]
