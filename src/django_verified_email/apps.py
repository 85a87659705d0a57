from importlib.util import find_spec

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _


class VerifiedEmailConfig(AppConfig):
    name = "django_verified_email"
    label = "verified_email"
    verbose_name = _("Verified email")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported for their side effects: registering system checks and the
        # receiver that re-reads settings under override_settings.
        from . import checks, conf, passwords  # noqa: F401

        passwords.connect()

        load_task_delivery()
        setting_changed.connect(_load_task_delivery_on_change, dispatch_uid=__name__)


def load_task_delivery():
    """Import the task module of the ``DELIVERY`` mode: it registers itself with ``delivery``.

    Only that one, and only once its framework is installed (system check
    E006 says when it is not): a host that sends in ``"sync"`` mode loads no
    task framework, whose default backend Django would look up as soon as a
    module defines a task.
    """
    from .conf import DEFAULTS, app_settings

    values = app_settings.user_values
    # Read as the system checks read it: a setting they will refuse must not
    # stop the app from starting before they can say so.
    mode = values.get("DELIVERY", DEFAULTS["DELIVERY"]) if isinstance(values, dict) else None
    if mode == "tasks" and (find_spec("django.tasks") or find_spec("django_tasks")):
        from . import tasks  # noqa: F401
    elif mode == "celery" and find_spec("celery"):
        from . import celery_tasks  # noqa: F401


def _load_task_delivery_on_change(*, setting, **kwargs):
    if setting == "VERIFIED_EMAIL":
        load_task_delivery()
