"""The example project (Pocket Wallet) works on the Django under test.

It has its own settings and user model, so it runs in a subprocess: system
checks, committed migrations, and its own test suite (the outbox backend and
page, sign-up, the dual-link change through the outbox, the demo accounts).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


@pytest.fixture
def manage(tmp_path):
    env = {
        **os.environ,
        # pytest-django exported the suite's settings: the project uses its own.
        "DJANGO_SETTINGS_MODULE": "pocket_wallet.settings",
        "POCKET_WALLET_DB": str(tmp_path / "db.sqlite3"),
        "POCKET_WALLET_CONSOLE_MAIL": "0",
        # As in the suite: a deprecation warning is an error.
        "PYTHONWARNINGS": "error::DeprecationWarning,error::PendingDeprecationWarning",
    }

    def run(*args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    return run


def test_system_checks_pass_without_warnings(manage):
    assert "no issues" in manage("check", "--fail-level", "WARNING")


def test_migrations_are_committed(manage):
    assert "No changes detected" in manage("makemigrations", "--check", "--dry-run")


def test_example_project_suite_passes(manage):
    output = manage("test", "--noinput", "tests")
    assert "\nOK" in output
