"""Fixtures every test may use. Helpers (functions, constants) are in tests/helpers.py."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches

from tests.helpers import CURRENT_TENANT, PASSWORD

# VE_TEST_STORE=profile: the test user model has no VerifiedEmailMixin, so
# the mixin's own tests (its save(), its queryset) have nothing to test.
collect_ignore = ["test_mixin.py"] if os.environ.get("VE_TEST_STORE") == "profile" else []


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttles and lockouts live in the cache: no test may inherit another's.
    caches["default"].clear()
    yield
    caches["default"].clear()


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


@pytest.fixture
def tenant_users(monkeypatch):
    """The test app's users as a multi-tenant host keeps them: the served tenant's only.

    The filter is in the queryset class, not in the manager's ``get_queryset``:
    each queryset the default manager starts sees the tenant served when it
    starts (``helpers.serving``); none served, every user.
    """
    from tests.testapp.models import UserQuerySet

    plain_init = UserQuerySet.__init__

    def init(self, model=None, query=None, using=None, hints=None):
        plain_init(self, model, query, using, hints)
        tenant = CURRENT_TENANT.get()
        if query is None and tenant is not None:
            self.query = self.filter(username__startswith=f"{tenant}-").query

    monkeypatch.setattr(UserQuerySet, "__init__", init)
