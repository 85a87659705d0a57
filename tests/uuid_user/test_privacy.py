"""Access requests for a user model keyed by a UUID (run by tests/test_uuid_user.py)."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_verified_email.privacy import export_user_data


def test_the_export_command_takes_a_uuid_and_prints_it_as_text(user):
    out = StringIO()
    call_command("verified_email_export", str(user.pk), stdout=out)
    data = json.loads(out.getvalue())
    assert data == export_user_data(user)
    assert data["user"]["pk"] == str(user.pk)


def test_the_export_command_refuses_a_uuid_of_nobody(db):
    with pytest.raises(CommandError, match="No user with primary key"):
        call_command("verified_email_export", str(uuid.uuid4()), stdout=StringIO())
