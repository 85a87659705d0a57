import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models

from django_verified_email.models import VerifiedEmailMixin


class UserManager(BaseUserManager):
    def create_user(self, username, password=None, **fields):
        user = self.model(username=username, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(VerifiedEmailMixin, AbstractBaseUser):
    """A user keyed by a UUID, which JSON (token payloads, task arguments) cannot carry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=150, unique=True)
    email_address = models.EmailField(max_length=254, blank=True)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email_address"
    REQUIRED_FIELDS = ["email_address"]

    objects = UserManager()
