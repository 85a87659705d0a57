import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _api_urls(settings):
    settings.ROOT_URLCONF = "tests.api.urls"


@pytest.fixture
def anonymous():
    """A client without a session that, like a real one, gets CSRF checks."""
    return Client(enforce_csrf_checks=True)
