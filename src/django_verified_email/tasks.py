"""The Django tasks framework side of ``DELIVERY = "tasks"``.

``django.tasks`` on Django 6.0 and later; on Django 5.2, the ``django-tasks``
backport. The framework has no retries of its own, so a failed send enqueues
the task again, later, with the next attempt number.

The app imports this module when ``DELIVERY`` is ``"tasks"`` (``apps``): it
registers that delivery with ``delivery`` when a tasks framework is installed. Celery's
``autodiscover_tasks()`` imports every app's ``tasks`` module too: this one
must import without either tasks framework, and it registers the Celery task
(and delivery) when Celery is installed, so a Celery worker finds it without
more setup.
"""

import logging
from datetime import timedelta
from importlib.util import find_spec

from django.utils import timezone

from .conf import app_settings
from .delivery import MAIL_ERRORS, deliver, record_owed, register_backend
from .flows import complete_due

logger = logging.getLogger("django_verified_email")

#: Attempts at sending one message before the task gives up and fails.
MAX_ATTEMPTS = 9
#: Seconds before the second attempt; each later wait doubles, up to RETRY_DELAY_MAX:
#: about three hours of mail server trouble before the task gives up.
RETRY_DELAY = 60
RETRY_DELAY_MAX = 3600


def retry_delay(attempt):
    """Seconds to wait after a failed ``attempt`` (1-based) before the next one."""
    return min(RETRY_DELAY * 2 ** (attempt - 1), RETRY_DELAY_MAX)


def _task_decorator():
    if find_spec("django.tasks"):
        from django.tasks import task

        return task
    if find_spec("django_tasks"):
        from django_tasks import task

        return task
    return None


task = _task_decorator()


def _deliver_email(kind, user_id, change_id=None, base_url=None, attempt=1):
    """Send one message; on a mail failure, enqueue the next attempt or give up."""
    try:
        return deliver(kind, user_id, change_id, base_url)
    except MAIL_ERRORS:
        if attempt >= MAX_ATTEMPTS:
            logger.exception(
                "Gave up sending the %s email of user %s after %s attempts",
                kind,
                user_id,
                attempt,
            )
            # A notice nobody can ask for again is sent by a later run instead.
            record_owed(kind, change_id)
            raise
        delay = retry_delay(attempt)
        logger.warning(
            "Could not send the %s email of user %s (attempt %s), retrying in %s s",
            kind,
            user_id,
            attempt,
            delay,
            exc_info=True,
        )
        retry = deliver_email
        # A backend that cannot defer (ImmediateBackend) retries at once.
        if retry.get_backend().supports_defer:
            retry = retry.using(run_after=timezone.now() + timedelta(seconds=delay))
        retry.enqueue(
            kind=kind,
            user_id=user_id,
            change_id=change_id,
            base_url=base_url,
            attempt=attempt + 1,
        )
        return False


if task is not None:
    # The worker finds a task by its module path: it must be a module-level
    # name, decorated where it is defined.
    @task
    def deliver_email(kind, user_id, change_id=None, base_url=None, attempt=1):
        return _deliver_email(kind, user_id, change_id, base_url, attempt)

    def _enqueue(**arguments):
        # Looked up when called: a wrapper put on the task later (a spy) is heard.
        deliver_email.enqueue(**arguments)

    register_backend("tasks", _enqueue)


def _complete_due_changes():
    """Complete the recoveries and reverts whose wait is over (``verified_email_complete_due``)."""
    run = complete_due(base_url=app_settings.BASE_URL)
    return {
        "completed": run.completed,
        "cancelled": run.cancelled,
        "reminded": run.reminded,
        "reverted": run.reverted,
    }


if task is not None:
    # The tasks framework has no scheduler of its own: enqueue this from cron
    # (or a scheduler the backend offers) every minute; docs/settings.md.
    @task
    def complete_due_changes():
        return _complete_due_changes()


if find_spec("celery"):
    from . import celery_tasks  # noqa: F401
