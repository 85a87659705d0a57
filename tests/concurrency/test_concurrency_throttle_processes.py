"""Cooldowns (shared cache) and lockouts (the app's table): another process sees them.

The other process is a real one, started with the same settings module (so
the same Redis) and pointed at the test database, acting on the same user id.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

from django_verified_email import throttle
from django_verified_email.exceptions import LockedOut, Throttled

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PARENT = Path(throttle.__file__).resolve().parents[1]


def in_another_process(code, user_id):
    script = textwrap.dedent(
        f"""
        import django
        from types import SimpleNamespace
        django.setup()
        from django_verified_email import throttle
        user = SimpleNamespace(pk={user_id!r})
        """
    ) + textwrap.dedent(code)
    test_database = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        # The repository root for the settings, and the copy of the package
        # this process runs (src/ in a checkout that does not install it).
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PACKAGE_PARENT)]),
        "VE_PG_NAME": test_database,
        "VE_MARIADB_NAME": test_database,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_cache_is_redis_here():
    from django.core.cache import caches

    assert type(caches["default"]).__name__ == "RedisCache"


def test_a_lockout_taken_in_another_process_holds_here(user):
    in_another_process("throttle.lock(user)", user.pk)

    with pytest.raises(LockedOut) as raised:
        throttle.check_lockout(user)
    assert 0 < raised.value.retry_after <= 900


def test_attempts_are_counted_across_processes(user, settings):
    settings.VERIFIED_EMAIL = {"REAUTH_MAX_ATTEMPTS": 5}
    printed = in_another_process("print([throttle.take_attempt(user) for _ in range(4)])", user.pk)
    assert printed == "[1, 2, 3, 4]"

    assert throttle.take_attempt(user) == 5
    with pytest.raises(LockedOut):
        throttle.take_attempt(user)
    in_another_process(
        """
        from django_verified_email.exceptions import LockedOut
        try:
            throttle.check_lockout(user)
        except LockedOut:
            pass
        else:
            raise SystemExit("not locked out in the other process")
        """,
        user.pk,
    )


def test_a_send_claimed_in_another_process_throttles_here(user):
    in_another_process("throttle.claim_send(user)", user.pk)

    with pytest.raises(Throttled) as raised:
        throttle.claim_send(user)
    assert 0 < raised.value.retry_after <= 60
