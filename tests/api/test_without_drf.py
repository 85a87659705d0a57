"""The core imports and runs without Django REST framework; only ``api`` needs it."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os
    import pkgutil
    import sys

    # None in sys.modules makes every import of the package fail, as if it
    # were not installed.
    sys.modules["rest_framework"] = None
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"

    import django

    django.setup()

    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    import django_verified_email

    assert not any(app.startswith("rest_framework") for app in settings.INSTALLED_APPS)
    for module in pkgutil.walk_packages(
        django_verified_email.__path__, "django_verified_email."
    ):
        # contrib apps load their package's models: they need it in INSTALLED_APPS.
        if module.name.startswith(("django_verified_email.api", "django_verified_email.contrib.")):
            continue
        try:
            __import__(module.name)
        except ImportError as error:
            # Other optional extras (celery) may be absent too; DRF must never
            # be what a core module needs.
            assert not (error.name or "").startswith("rest_framework"), module.name

    import django_verified_email.urls  # noqa: F401

    try:
        import django_verified_email.api.urls  # noqa: F401
    except ImportError as error:
        assert error.name == "rest_framework", error
    else:
        raise AssertionError("the API imported without DRF")

    setup_test_environment()
    # run_syncdb: the profile-store run makes the test app's table from its model.
    call_command("migrate", run_syncdb=True, verbosity=0)

    from django.contrib.auth import get_user_model

    from django_verified_email import flows
    from tests.helpers import token_in

    user = get_user_model().objects.create_user(
        "alice", "pw", email_address="alice@example.com"
    )
    flows.send_verification(user, base_url="https://example.com")
    [message] = mail.outbox
    token = token_in(message)
    assert django_verified_email.is_email_verified(flows.confirm_verification(token))
    print("core ran without DRF")
    """
)


def test_core_imports_and_runs_without_drf():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "core ran without DRF" in result.stdout
