"""Races between real database connections: PostgreSQL or MariaDB, and Redis.

The default test run does not collect this folder: SQLite serialises every
writer and the locmem cache lives in one process, so a race there proves
nothing. The ``postgres`` and ``mariadb`` tox envs (scripts/test-services)
set VE_CONCURRENCY_TESTS=1 to run it.
"""

import os
import threading

import pytest
from django.db import connections

if os.environ.get("VE_CONCURRENCY_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


def run_at_once(*calls, timeout=30):
    """Run each call in its own thread (own connection), released together.

    Returns one ("ok", value) or ("error", exception) per call, in order.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = ("ok", call())
        except Exception as exc:  # the caller asserts on it
            results[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing call hung (deadlock?)"
    return results


@pytest.fixture(autouse=True)
def _real_database(transactional_db):
    """Every test here commits for real: the racing threads see only commits."""
