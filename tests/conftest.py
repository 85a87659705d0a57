"""Fixtures every test may use. Helpers (functions, constants) are in tests/helpers.py."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches

from django_verified_email import prepared
from tests.helpers import PASSWORD


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttles and lockouts live in the cache: no test may inherit another's.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture(autouse=True)
def _clear_prepared_reads():
    # A test may patch what a read is built from: the next must build it anew.
    yield
    prepared.clear()


@pytest.fixture
def make_user(db):
    def make(username="alice", email="alice@example.com", verified=True, **extra):
        user = get_user_model().objects.create_user(
            username=username,
            password=PASSWORD,
            email_address=email,
            is_email_verified=verified,
            **extra,
        )
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client
