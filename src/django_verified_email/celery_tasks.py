"""The Celery side of ``DELIVERY = "celery"`` (the ``[celery]`` extra).

Only this module imports Celery: the rest of the package works without it.
"""

from celery import shared_task

from .conf import app_settings
from .delivery import MAIL_ERRORS, deliver, record_owed, register_backend
from .flows import complete_due


@shared_task(
    name="django_verified_email.deliver_email",
    autoretry_for=MAIL_ERRORS,
    # Up to 60 s, 120 s, 240 s... at most an hour apart (jitter spreads the
    # retries of many messages after an outage): hours of mail server
    # trouble before the task gives up.
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
    # Acknowledged once sent, not once received: a worker killed mid-send
    # leaves the task in the broker for the next one. The price is a rare
    # second copy of a message, never a lost one.
    acks_late=True,
    ignore_result=True,
    bind=True,
)
def deliver_email(self, kind, user_id, change_id=None, base_url=None):
    try:
        return deliver(kind, user_id, change_id, base_url)
    except MAIL_ERRORS:
        if self.request.retries >= self.max_retries:
            # The last try: Celery gives up after this one. A notice nobody
            # can ask for again is sent by a later run instead.
            record_owed(kind, change_id)
        raise


def _enqueue(**arguments):
    # Looked up when called: a wrapper put on the task later (a spy) is heard.
    deliver_email.apply_async(kwargs=arguments)


register_backend("celery", _enqueue)


@shared_task(name="django_verified_email.complete_due_changes", ignore_result=True)
def complete_due_changes():
    """The periodic task: add it to Celery beat, every minute (docs/settings.md)."""
    run = complete_due(base_url=app_settings.BASE_URL)
    return {
        "completed": run.completed,
        "cancelled": run.cancelled,
        "reminded": run.reminded,
        "reverted": run.reverted,
    }
