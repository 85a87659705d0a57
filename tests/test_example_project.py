"""The example project (Pocket Wallet) works on the Django under test.

It has its own settings and user model, so it runs in a subprocess: system
checks, committed migrations, and its own test suite (the outbox backend and
page, sign-up, the dual-link change through the outbox, the demo accounts).
Each runs twice: on the project's custom user model with the mixin
(``pocket_wallet.settings``) and on Django's default ``auth.User`` with the
profile store (``pocket_wallet.settings_auth_user``).
"""

import os

import pytest

from tests.helpers import example_manage


@pytest.fixture(
    params=["pocket_wallet.settings", "pocket_wallet.settings_auth_user"],
    ids=["custom_user_model", "auth_user"],
)
def manage(request, tmp_path):
    env = {
        **os.environ,
        # pytest-django exported the suite's settings: the project uses its own.
        "DJANGO_SETTINGS_MODULE": request.param,
        "POCKET_WALLET_DB": str(tmp_path / "db.sqlite3"),
        "POCKET_WALLET_CONSOLE_MAIL": "0",
        # As in the suite: a deprecation warning is an error.
        "PYTHONWARNINGS": "error::DeprecationWarning,error::PendingDeprecationWarning",
    }

    def run(*args):
        result = example_manage(*args, env=env)
        return result.stdout + result.stderr

    return run


def test_system_checks_pass_without_warnings(manage):
    assert "no issues" in manage("check", "--fail-level", "WARNING")


def test_migrations_are_committed(manage):
    assert "No changes detected" in manage("makemigrations", "--check", "--dry-run")


def test_example_project_suite_passes(manage):
    output = manage("test", "--noinput", "tests")
    assert "\nOK" in output
