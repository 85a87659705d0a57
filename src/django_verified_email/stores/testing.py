"""A test helper for a store of your own: ``StoreContract`` checks the interface's promises.

Subclass it in a pytest module, give it the store and a way to make a user
with an address, and run it with a database::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self):
            return MyStore()

        @pytest.fixture
        def make_user(self, db):
            def make(username, address):
                return User.objects.create_user(username, address, "pw")
            return make

Each test locks users inside ``transaction.atomic()``, as the flows do.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from .base import SESSION_STEP, session_epoch


class StoreContract:
    """The promises of ``AddressStore``, as tests; needs ``store`` and ``make_user`` fixtures."""

    def _locked(self, store: Any, user: Any) -> Any:
        locked = store.lock_user(user.pk)
        assert locked is not None and locked.pk == user.pk
        return locked

    def test_a_new_user_starts_unverified(self, store: Any, make_user: Any) -> None:
        user = make_user("contract-a", "contract-a@example.com")
        with transaction.atomic():
            locked = self._locked(store, user)
            assert store.address(locked) == "contract-a@example.com"
            assert not store.is_verified(locked)
            assert store.verified_at(locked) is None

    def test_marking_verified_is_read_back_after_a_lock(self, store: Any, make_user: Any) -> None:
        user = make_user("contract-b", "contract-b@example.com")
        now = timezone.now()
        with transaction.atomic():
            assert store.mark_verified(self._locked(store, user), now)
        with transaction.atomic():
            locked = self._locked(store, user)
            assert store.is_verified(locked)
            assert store.verified_at(locked) == now

    def test_a_verified_holder_is_found_by_others(self, store: Any, make_user: Any) -> None:
        holder = make_user("contract-c", "contract-c@example.com")
        other = make_user("contract-d", "contract-d@example.com")
        with transaction.atomic():
            store.mark_verified(self._locked(store, holder), timezone.now())
        with transaction.atomic():
            found = store.holders(self._locked(store, other), "CONTRACT-C@example.com")
        assert [(h.pk, h.verified) for h in found] == [(holder.pk, True)]

    def test_verified_holders_names_the_accounts_that_proved_an_address(
        self, store: Any, make_user: Any
    ) -> None:
        # The adoption command's check, a batch at a time: by compared
        # address, whatever the spelling asked; an unproved holder is no one.
        proved = make_user("contract-e", "contract-e@example.com")
        make_user("contract-f", "contract-f@example.com")
        with transaction.atomic():
            store.mark_verified(self._locked(store, proved), timezone.now())
        held = store.verified_holders(["CONTRACT-E@example.com", "contract-f@example.com"])
        assert {address: set(pks) for address, pks in held.items()} == {
            "contract-e@example.com": {proved.pk}
        }

    def test_a_new_verified_address_moves_the_counter_and_never_back(
        self, store: Any, make_user: Any
    ) -> None:
        user = make_user("contract-e", "contract-e@example.com")
        with transaction.atomic():
            locked = self._locked(store, user)
            before = store.security_counter(locked)
            assert store.set_verified_address(
                locked, "contract-e2@example.com", timezone.now(), end_sessions=False
            )
            moved = store.security_counter(locked)
            store.move_security_counter(locked, end_sessions=True)
        with transaction.atomic():
            locked = self._locked(store, user)
            assert store.address(locked) == "contract-e2@example.com"
            assert store.is_verified(locked)
            assert before < moved < store.security_counter(locked)
            assert store.security_counter(locked) % SESSION_STEP == 0
            assert session_epoch(store.security_counter(locked)) > session_epoch(before)
