"""Hosts on Django's default ``auth.User``, with no custom user model (the profile store).

The flows run in tests/auth_user, in a process of their own: AUTH_USER_MODEL
cannot change inside this one.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_flows_work_on_djangos_default_user_model():
    env = {
        **os.environ,
        "VE_AUTH_USER_TESTS": "1",
        "DJANGO_SETTINGS_MODULE": "tests.auth_user.settings",
    }
    env.pop("VE_TEST_STORE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--ds=tests.auth_user.settings", "-q", "tests/auth_user"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout
