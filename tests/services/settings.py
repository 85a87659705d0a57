"""Settings shared by the test process and the workers it starts.

The workers are separate processes: they reach the test database by its name
(``VE_PG_NAME``), and write the emails they send to a folder the test reads
(``VE_MAILBOX_DIR``).
"""

import os

from ..settings_postgres import *  # noqa: F403
from ..settings_postgres import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]

# Only the default database: the workers know no other (tests/test_routers.py's
# aliases are for the main suite; Django's checks would connect to each).
DATABASES = {"default": DATABASES["default"]}
# Its own test database: the other PostgreSQL suite may run at the same time.
DATABASES["default"]["TEST"] = {"NAME": "test_verified_email_services"}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

CELERY_BROKER_URL = os.environ.get("VE_CELERY_BROKER", "redis://127.0.0.1:6379/3")
CELERY_TASK_DEFAULT_QUEUE = "verified-email-tests"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

MAILERS = {"default": {"BACKEND": "tests.services.mailbox.EmailBackend"}}

VERIFIED_EMAIL = {"BASE_URL": "http://testserver", "RESEND_COOLDOWN": 0}
