"""Fixtures for the service suites: real workers in their own processes.

The default test run does not collect this folder: it needs PostgreSQL and a
broker, and starts processes. Its tox envs (``celery-redis``,
``celery-rabbitmq``, ``tasks-db``; scripts/test-services) set
VE_SERVICE_TESTS=1 to run it, and each selects its suite by marker
(``celery``, ``tasks_db``).

The tests are ``transaction=True``: a worker is another process with its own
connection, so it sees only committed rows.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.environ.get("VE_SERVICE_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT = 20


class Worker:
    """A worker process, started and stopped on demand, its output in a log file."""

    def __init__(self, command, env, log_path):
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process = None

    def start(self):
        assert self.process is None
        log = open(self.log_path, "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def stop(self):
        """A warm shutdown, as a deploy does: the worker finishes what it runs."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the worker did not stop within {STOP_TIMEOUT} s") from None
        finally:
            self.process = None

    def log(self):
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def mailbox_dir(tmp_path, monkeypatch):
    folder = tmp_path / "mailbox"
    folder.mkdir()
    # The test process sends through the same backend (sync steps, if any).
    monkeypatch.setenv("VE_MAILBOX_DIR", str(folder))
    return folder


@pytest.fixture
def worker_env(transactional_db, mailbox_dir):
    from django.db import connection

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.services.settings",
        # The test database pytest-django created, which the worker joins.
        "VE_PG_NAME": connection.settings_dict["NAME"],
        "VE_MAILBOX_DIR": str(mailbox_dir),
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def start_worker(transactional_db, tmp_path, request):
    """Start a worker with ``command``; it is stopped when the test ends.

    It stops before the test's rows are flushed (it depends on the database).
    """
    workers = []

    def start(command, env):
        worker = Worker(command, env, tmp_path / f"worker-{len(workers)}.log")
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for worker in workers:
            sys.stderr.write(f"--- {worker.log_path.name}\n{worker.log()}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def wait_until(predicate, timeout=30, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.05)
