"""Random sequences of flow steps never break the three promises.

Across two or three users, any sequence of requests (right or wrong password,
free or taken or differently spelt addresses), confirmations (of the newest
link or of any link seen before), resends, cancellations, verifications,
reverts and the clock jumping past expiry must leave:

- no two users with one address (compared case-insensitively, NFKC, IDN);
- no user marked verified whose address no link ever proved;
- no user with more than one open change.
"""

import os
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import caches
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_verified_email import addresses, flows, is_email_verified
from django_verified_email.exceptions import VerifiedEmailError
from django_verified_email.models import EmailChange
from tests.helpers import ANY_PAGE, PASSWORD, links_in, page_of, token_of

pytestmark = pytest.mark.hardening

EXAMPLES = int(os.environ.get("VE_PROPERTY_EXAMPLES", "80"))
POOL = [
    "u0@example.com",
    "U0@EXAMPLE.com.",
    "u1@example.com",
    "\uff55\uff12@example.com",  # full-width "u2"
    "shared@example.com",
    "SHARED@example.com",
    "x@b\u00fccher.de",
    "x@xn--bcher-kva.de",
]

users = st.integers(min_value=0, max_value=2)
steps = st.one_of(
    st.tuples(
        st.just("request"), users, st.sampled_from(POOL), st.sampled_from([True] * 4 + [False])
    ),
    # Mostly the newest links (the ones that can still work), sometimes any older one.
    st.tuples(
        st.just("use_link"),
        st.one_of(st.sampled_from([-1, -1, -2, -3]), st.integers(min_value=0, max_value=50)),
    ),
    st.tuples(st.just("resend"), users),
    st.tuples(st.just("cancel"), users),
    st.tuples(st.just("verify"), users),
    st.tuples(st.just("expire")),
)


def run(step, people, links, clock):
    """Run one step; returns (user id, recipient of the link) when a link proved an address."""
    kind, *args = step
    user = people[args[0]] if kind in ("request", "resend", "cancel", "verify") else None
    if user is not None:
        user.refresh_from_db()
    base = "http://testserver"
    if kind == "request":
        _, address, right = args
        flows.request_change(user, address, PASSWORD if right else "wrong", base_url=base)
    elif kind == "use_link":
        if not links:
            return None
        path, token, recipient = links[args[0] % len(links)]
        if path == "verify":
            return (flows.confirm_verification(token).pk, recipient)
        if path == "change/confirm":
            change = flows.confirm_change(token, base_url=base)
            if change.status == "completed":
                return (change.user_id, recipient)
        else:
            return (flows.revert_change(token, password=PASSWORD, base_url=base).user_id, recipient)
    elif kind == "resend":
        flows.resend_change(user, base_url=base)
    elif kind == "cancel":
        flows.cancel_change(user)
    elif kind == "verify":
        flows.send_verification(user, base_url=base)
    elif kind == "expire":
        clock.shift(timedelta(days=8))
    return None


def check_promises(people, proven):
    User = get_user_model()
    seen = {}
    for user in User._default_manager.all():
        address = addresses.comparable(user.email_address)
        if address:
            assert address not in seen, f"{user.username} and {seen[address]} share {address}"
            seen[address] = user.username
        if is_email_verified(user):
            assert address in proven[user.pk], (user.username, address, proven[user.pk])
        assert EmailChange.objects.pending().filter(user=user).count() <= 1


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The same examples on every run (CI stays reproducible), and no example
    # database written into the checkout.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    verified=st.lists(st.booleans(), min_size=3, max_size=3),
    reveal=st.booleans(),
    sequence=st.lists(steps, min_size=1, max_size=20),
)
def test_random_flow_sequences_keep_the_promises(db, verified, reveal, sequence):
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    User = get_user_model()
    User._default_manager.all().delete()
    caches["default"].clear()
    mail.outbox = []
    overrides = override_settings(
        VERIFIED_EMAIL={
            **getattr(django_settings, "VERIFIED_EMAIL", {}),
            "RESEND_COOLDOWN": 0,
            "REVEAL_TAKEN_EMAIL": reveal,
        }
    )
    with overrides, time_machine.travel(timezone.now(), tick=False) as clock:
        people = [
            User.objects.create_user(
                username=f"u{i}",
                password=PASSWORD,
                email_address=f"u{i}@example.com",
                is_email_verified=verified[i],
            )
            for i in range(3)
        ]
        proven = {
            person.pk: {addresses.comparable(person.email_address)} if verified[i] else set()
            for i, person in enumerate(people)
        }
        links = []
        read = 0
        for step in sequence:
            try:
                proved = run(step, people, links, clock)
            except VerifiedEmailError:
                proved = None
            for message in mail.outbox[read:]:
                for link in links_in(message, ANY_PAGE):
                    links.append((page_of(link), token_of(link), message.to[0]))
            read = len(mail.outbox)
            if proved is not None:
                # The address a used link proves is the one it was sent to.
                user_id, recipient = proved
                proven[user_id].add(addresses.comparable(recipient))
            check_promises(people, proven)
