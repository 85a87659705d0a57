"""Hosts whose user model is keyed by a UUID.

The flows themselves run in tests/uuid_user, in a process of their own:
AUTH_USER_MODEL cannot change inside this one.
"""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from django_verified_email import tokens

ROOT = Path(__file__).resolve().parents[1]


def test_the_flows_work_for_a_uuid_user_model():
    env = {
        **os.environ,
        "VE_UUID_USER_TESTS": "1",
        "DJANGO_SETTINGS_MODULE": "tests.uuid_user.settings",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--ds=tests.uuid_user.settings",
            "-q",
            "tests/uuid_user",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout


def test_integer_keys_travel_as_integers():
    assert tokens.portable_id(42) == 42
    assert tokens.same_id(42, 42)
    assert not tokens.same_id(42, 43)


def test_other_keys_travel_as_text_and_compare_as_text():
    key = uuid.uuid4()

    assert tokens.portable_id(key) == str(key)
    assert tokens.same_id(tokens.portable_id(key), key)
    assert not tokens.same_id(str(uuid.uuid4()), key)
