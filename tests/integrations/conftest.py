"""Access revokers against the real packages: simplejwt, knox, django-otp, allauth.mfa.

The default test run does not collect this folder: its settings
(``tests.integrations.settings``) install those apps, which the default
suite and the README's test command must not need. The ``integrations`` tox
env sets VE_INTEGRATION_TESTS=1 and selects these tests by the
``integrations`` marker.
"""

import os

import pytest

if os.environ.get("VE_INTEGRATION_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def _integration_urls(settings):
    settings.ROOT_URLCONF = "tests.integrations.urls"
