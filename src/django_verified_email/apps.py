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
        connect_store_receivers()


def connect_store_receivers():
    """Connect what the address store needs to hear of the user model.

    With the profile store: a ``save()`` that writes a new address clears the
    verified state (the mixin's own ``save()`` does it otherwise), a profile
    row is deleted only with its user, and a login records the session epoch
    (``middleware``).
    """
    from django.contrib.auth import get_user_model, user_logged_in
    from django.db.models.signals import post_init, post_save, pre_delete, pre_save

    from .middleware import remember_epoch
    from .models import VerifiedEmailProfile, keeps_own_state
    from .stores import profile

    user_logged_in.connect(remember_epoch, dispatch_uid="verified_email_epoch")
    model = get_user_model()
    if keeps_own_state(model):
        return
    uid = "verified_email_profile"
    post_init.connect(profile.remember_address, sender=model, dispatch_uid=uid)
    post_save.connect(profile.remember_address, sender=model, dispatch_uid=uid)
    pre_save.connect(profile.address_saved, sender=model, dispatch_uid=uid)
    pre_delete.connect(profile.deleted_alone, sender=VerifiedEmailProfile, dispatch_uid=uid)


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
