"""Celery delivery with a real worker on a real broker (Redis or RabbitMQ,
from VE_CELERY_BROKER; tox envs celery-redis and celery-rabbitmq)."""

import sys

import pytest

from . import scenarios
from .celery_app import app

pytestmark = [
    pytest.mark.services,
    pytest.mark.postgres,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

QUEUE = app.conf.task_default_queue


def waiting_in_queue():
    # Declared as Celery declares it (a passive declare fails on Redis once
    # the queue is empty: the key is gone).
    with app.connection_for_write() as connection:
        queue = app.amqp.queues[QUEUE].bind(connection.default_channel)
        return queue.queue_declare().message_count


@pytest.fixture
def worker(settings, start_worker, worker_env):
    settings.VERIFIED_EMAIL = {**settings.VERIFIED_EMAIL, "DELIVERY": "celery"}
    # Tasks left in the broker by an interrupted earlier run belong to rows
    # that no longer exist: drop them.
    app.control.purge()
    return start_worker(
        [
            sys.executable,
            "-m",
            "celery",
            "--app=tests.services.celery_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            f"--queues={QUEUE}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        worker_env,
    )


def test_the_dual_link_flow(worker, client, user):
    scenarios.dual_link_flow(client, user)


def test_requests_while_the_worker_is_down(worker, client, make_user):
    scenarios.requests_while_the_worker_is_down(client, make_user, worker, waiting_in_queue)
