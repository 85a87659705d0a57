"""The address stores: the public reader and writer, and what each store promises."""

import pytest

import django_verified_email
from django_verified_email import stores
from django_verified_email.exceptions import NoEmail
from django_verified_email.stores import get_store
from django_verified_email.stores.testing import StoreContract
from tests.helpers import reloaded

pytestmark = pytest.mark.django_db


def test_the_public_reader_and_writer_work_on_any_store(make_user):
    user = make_user(verified=False)
    assert not django_verified_email.is_email_verified(user)

    django_verified_email.mark_email_verified(user)

    assert django_verified_email.is_email_verified(user)
    assert django_verified_email.is_email_verified(reloaded(user))


def test_marking_a_user_without_an_address_is_refused(make_user):
    user = make_user(email="", verified=False)
    with pytest.raises(NoEmail):
        django_verified_email.mark_email_verified(user)
    assert not django_verified_email.is_email_verified(reloaded(user))


def test_the_package_imports_before_apps_are_ready():
    import subprocess
    import sys

    code = "import django_verified_email as v; print(callable(v.is_email_verified))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.fixture
def registered_store(monkeypatch):
    """Undo a ``use_store`` registration after the test."""
    monkeypatch.setattr(stores, "_registered", [])
    yield
    stores._store_for.cache_clear()


def test_an_installed_app_supplies_the_store_over_the_base_one(registered_store):
    base = get_store()

    class Wrapping:
        def __init__(self, base):
            self.base = base

    stores.use_store(Wrapping)

    store = get_store()
    assert isinstance(store, Wrapping)
    assert type(store.base) is type(base)
    assert get_store() is store  # built once


class TestTheStoreInUse(StoreContract):
    """The store of this run (``user``, or ``profile`` with VE_TEST_STORE=profile)."""

    @pytest.fixture
    def store(self):
        return get_store()

    @pytest.fixture
    def make_user(self, make_user):
        def make(username, address):
            return make_user(username, address, verified=False)

        return make


def store_classes():
    from django_verified_email.stores.profile import ProfileStore
    from django_verified_email.stores.user import UserStore

    # The allauth store's models load only with allauth installed: its host
    # project (tests/allauth_host) runs this test for it.
    return [UserStore, ProfileStore]


@pytest.mark.parametrize("store", store_classes(), ids=lambda cls: cls.__name__)
def test_every_store_has_every_method_of_the_interface(store):
    assert_implements_the_interface(store)


def assert_implements_the_interface(store):
    members = {
        name
        for name, value in vars(stores.AddressStore).items()
        if callable(value) and not name.startswith("_")
    }
    assert members, "the interface lists its methods"
    assert {name for name in members if not callable(getattr(store, name, None))} == set()
