"""One mailbox, many spellings: case, full-width characters, trailing dots, IDN."""

import pytest
from django.test import Client

from django_verified_email import addresses, flows
from django_verified_email.exceptions import EmailTaken, SameEmail
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    email_of,
    reloaded,
    request_change,
    token_in,
)

pytestmark = pytest.mark.hardening

# "alice@example.com" in full-width forms, at sign and dot included.
FULL_WIDTH_ALICE = "".join(chr(ord(c) + 0xFEE0) for c in "alice@example.com")


@pytest.mark.parametrize(
    ("spelling", "stored"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@EXAMPLE.com ", "Alice@example.com"),
        ("alice@example.com.", "alice@example.com"),
        (FULL_WIDTH_ALICE, "alice@example.com"),
        ("alice@B\u00dcCHER.de", "alice@b\u00fccher.de"),
        ("alice@xn--bcher-kva.de", "alice@b\u00fccher.de"),
        ("alice@xn--bcher-kva.de.", "alice@b\u00fccher.de"),
    ],
)
def test_normalize(spelling, stored):
    assert addresses.normalize(spelling) == stored


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice@example.com", "ALICE@Example.Com"),
        ("alice@example.com", FULL_WIDTH_ALICE),
        ("alice@example.com", "alice@example.com."),
        ("alice@b\u00fccher.de", "ALICE@XN--BCHER-KVA.DE"),
    ],
)
def test_spellings_of_one_mailbox_are_the_same_address(first, second):
    assert addresses.same_address(first, second)


@pytest.mark.parametrize(
    "address", ["alice@example..com", "alice@exa mple.com", "alice@", "@example.com", ""]
)
def test_malformed_addresses_are_refused(address):
    assert not addresses.is_valid(addresses.normalize(address))


@pytest.mark.parametrize("spelling", ["ALICE@example.com", "alice@EXAMPLE.COM.", FULL_WIDTH_ALICE])
def test_changing_to_another_spelling_of_ones_own_address_is_same_email(user, spelling):
    with pytest.raises(SameEmail):
        flows.request_change(user, spelling, PASSWORD, base_url=BASE_URL)
    response = request_change(client_for(user), spelling)
    assert response.status_code == 200
    assert b"This is already your email address." in response.content


@pytest.mark.parametrize(
    "spelling", ["BOB@example.com", "bob@example.com.", "\uff42ob@example.com"]
)
def test_another_spelling_of_a_taken_address_is_taken(user, make_user, spelling):
    make_user("bob", "bob@example.com")
    with pytest.raises(EmailTaken):
        flows.request_change(user, spelling, PASSWORD, base_url=BASE_URL)
    response = request_change(client_for(user), spelling)
    assert response.status_code == 200
    assert b"already used by another account" in response.content


def test_an_idn_address_goes_through_the_whole_html_flow(make_user, mailoutbox):
    user = make_user(verified=False)

    assert request_change(client_for(user), "alice@B\u00dcCHER.de.").status_code == 302

    [message] = mailoutbox
    assert message.to == ["alice@b\u00fccher.de"]
    confirm = f"/account/email/change/confirm/{token_in(message)}/"
    assert Client().post(confirm).status_code == 302
    user = reloaded(user)
    assert email_of(user) == "alice@b\u00fccher.de"
    assert user.is_email_verified


def test_the_ascii_form_of_a_taken_idn_address_is_taken(make_user):
    make_user("bob", "bob@b\u00fccher.de")
    alice = make_user()
    with pytest.raises(EmailTaken):
        flows.request_change(alice, "BOB@xn--bcher-kva.de", PASSWORD)


def test_the_unicode_form_of_a_taken_ascii_idn_address_is_taken(make_user):
    # A host may have stored the ASCII form itself.
    make_user("bob", "bob@xn--bcher-kva.de")
    alice = make_user()
    with pytest.raises(EmailTaken):
        flows.request_change(alice, "bob@b\u00fccher.de", PASSWORD)


def test_a_full_width_address_is_stored_in_its_plain_form(make_user, mailoutbox):
    user = make_user(verified=False)
    fancy = (
        "\uff4e\uff45\uff57\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"
    )
    assert request_change(client_for(user), fancy).status_code == 302
    assert mailoutbox[-1].to == ["new@example.com"]
    assert (
        Client().post(f"/account/email/change/confirm/{token_in(mailoutbox[-1])}/").status_code
        == 302
    )
    assert email_of(reloaded(user)) == "new@example.com"
