"""How long the request-change call takes under each DELIVERY mode, with a slow mail server.

An SMTP server on 127.0.0.1 (aiosmtpd) answers each message after ``--delay``
seconds. N users each ask for an email change through Django's test client
(the HTML view, logged in with a session); the time of that one request is
measured, under:

- ``sync``: the request sends the message itself, so it waits for the server;
- ``tasks``: the request enqueues a task with the django-tasks database backend
  (one row in the same database);
- ``celery``: the request publishes a task to a Celery broker (Redis by default).

No worker runs: what is measured is what the user waits for. Exits non-zero
when the median of ``tasks`` or ``celery`` is not under 1/20 of the delay.

    pip install -e ".[celery,bench]"
    python benchmarks/delivery.py
    python benchmarks/delivery.py --requests 50 --celery-broker amqp://guest:guest@127.0.0.1:5672//

SQLite in memory and the test settings (fast password hasher) are used, so the
figures show the cost of the hand-over, not of the database or hashing.
"""

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark password"
QUEUE = "verified-email-benchmark"
MODES = ("sync", "tasks", "celery")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per mode")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the SMTP server takes")
    parser.add_argument(
        "--celery-broker", default="redis://127.0.0.1:6379/4", help="broker URL for celery mode"
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    return parser.parse_args()


class SlowHandler:
    """Accepts every message, after a delay."""

    def __init__(self, delay):
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.received += 1
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def setup_django(smtp_port):
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    from django.conf import settings

    from tests import settings as test_settings

    values = {name: getattr(test_settings, name) for name in dir(test_settings) if name.isupper()}
    values["INSTALLED_APPS"] = [*values["INSTALLED_APPS"], "django_tasks_db"]
    values["TASKS"] = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    if "MAILERS" in values:
        values["MAILERS"] = {
            "default": {"BACKEND": smtp, "OPTIONS": {"host": "127.0.0.1", "port": smtp_port}}
        }
    else:
        values.update(EMAIL_BACKEND=smtp, EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp_port)
    values.pop("HAS_MAILERS", None)
    settings.configure(**values)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def celery_app(broker):
    from celery import Celery

    app = Celery("verified_email_benchmark", broker=broker)
    app.conf.task_default_queue = QUEUE
    app.conf.broker_connection_retry_on_startup = False
    app.set_current()
    return app


def waiting_in_queue(app):
    with app.connection_for_write() as connection:
        queue = app.amqp.queues[QUEUE].bind(connection.default_channel)
        return queue.queue_declare().message_count


def run_mode(mode, requests, app):
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings
    from django.urls import reverse

    users = [
        get_user_model().objects.create_user(
            username=f"{mode}{n}",
            password=PASSWORD,
            email_address=f"{mode}{n}@example.com",
            is_email_verified=True,
        )
        for n in range(requests)
    ]
    url = reverse("verified_email:change")
    timings = []
    with override_settings(VERIFIED_EMAIL={"DELIVERY": mode, "BASE_URL": "https://example.com"}):
        for user in users:
            client = Client()
            client.force_login(user)
            data = {"new_email": f"{user.username}.new@example.com", "password": PASSWORD}
            start = time.perf_counter()
            response = client.post(url, data)
            timings.append(time.perf_counter() - start)
            if response.status_code != 302:
                raise SystemExit(f"{mode}: the request answered {response.status_code}")
    return timings


def percentile_95(values):
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main():
    args = parse_args()
    from aiosmtpd.controller import Controller

    handler = SlowHandler(args.delay)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        setup_django(controller.port)
        app = celery_app(args.celery_broker) if "celery" in args.modes else None
        if app is not None:
            app.control.purge()
        results = {}
        for mode in args.modes:
            results[mode] = run_mode(mode, args.requests, app)
        checks = []
        if "sync" in args.modes:
            checks.append(("messages received by the SMTP server", handler.received))
        if "tasks" in args.modes:
            from django_tasks_db.models import DBTaskResult

            checks.append(("tasks queued in the database", DBTaskResult.objects.count()))
        if app is not None:
            checks.append(("tasks waiting in the Celery queue", waiting_in_queue(app)))
            app.control.purge()
    finally:
        controller.stop()

    target = args.delay / 20
    print(f"SMTP delay {args.delay:.2f} s; target for tasks and celery: median < {target:.3f} s")
    print()
    print("| mode   | requests | median (ms) | p95 (ms) | target met  |")
    print("|--------|---------:|------------:|---------:|-------------|")
    failed = False
    for mode, timings in results.items():
        median = statistics.median(timings)
        if mode == "sync":
            verdict = "(reference)"
        else:
            met = median < target
            failed = failed or not met
            verdict = "yes" if met else "NO"
        print(
            f"| {mode:<6} | {len(timings):>8} | {median * 1000:>11.1f} "
            f"| {percentile_95(timings) * 1000:>8.1f} | {verdict:<11} |"
        )
    print()
    for label, count in checks:
        print(f"{label}: {count}")
    if failed:
        raise SystemExit("The target was not met.")


if __name__ == "__main__":
    main()
