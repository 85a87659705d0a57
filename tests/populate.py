"""Filling the tables with other users' history, for the query budget and its benchmark."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from django_verified_email.models import EmailChange


def fill_tables(rows, password):
    """``rows`` other users, each with one change in some status."""
    User = get_user_model()
    field = User.get_email_field_name()
    hashed = make_password(password)
    users = User.objects.bulk_create(
        User(
            username=f"other{i}",
            password=hashed,
            is_email_verified=True,
            **{field: f"other{i}@example.org"},
        )
        for i in range(rows)
    )
    statuses = list(EmailChange.Status)
    EmailChange.objects.bulk_create(
        EmailChange(
            user=user,
            old_email=f"other{i}@example.org",
            new_email=f"other{i}.new@example.org",
            status=statuses[i % len(statuses)],
            link_generation=1,
        )
        for i, user in enumerate(users)
    )
