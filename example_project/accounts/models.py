from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_verified_email.models import VerifiedEmailMixin

# The site runs on either user model: this one (settings.py: the mixin keeps
# the verified state on the user) or Django's auth.User (settings_auth_user.py:
# the app's own table keeps it). Two AbstractUser models in one project clash
# (both would own the groups' reverse accessor), so this one exists only when
# the settings choose it.
if settings.AUTH_USER_MODEL == "accounts.User":

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
                    violation_error_message=_(
                        "This email address is already used by another account."
                    ),
                ),
            ]
