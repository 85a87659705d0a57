"""Races between real database connections: PostgreSQL or MariaDB, and Redis.

The default test run does not collect this folder: SQLite serialises every
writer and the locmem cache lives in one process, so a race there proves
nothing. The ``postgres`` and ``mariadb`` tox envs (scripts/test-services)
set VE_CONCURRENCY_TESTS=1 to run it; ``mariadb`` selects these tests by the
``concurrency`` marker.
"""

import os

import pytest

if os.environ.get("VE_CONCURRENCY_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def _real_database(transactional_db):
    """Every test here commits for real: the racing threads see only commits."""
