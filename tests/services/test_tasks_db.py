"""Django tasks delivery with the django-tasks database backend and its
worker command, ``db_worker`` (tox env tasks-db)."""

import sys

import pytest
from django_tasks_db.models import DBTaskResult

from . import scenarios

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.tasks_db,
    pytest.mark.django_db(transaction=True),
]


def waiting_in_queue():
    return DBTaskResult.objects.ready().count()


@pytest.fixture
def worker(settings, start_worker, worker_env):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "DELIVERY": "tasks"}
    return start_worker(
        [
            sys.executable,
            "-m",
            "django",
            "db_worker",
            "--interval=0.1",
            "--no-startup-delay",
        ],
        worker_env,
    )


def test_the_dual_link_flow(worker, client, user):
    scenarios.dual_link_flow(client, user)


def test_requests_while_the_worker_is_down(worker, client, make_user):
    scenarios.requests_while_the_worker_is_down(client, make_user, worker, waiting_in_queue)
