"""One mailbox, many spellings: case, full-width characters, trailing dots, IDN."""

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from django_verified_email import addresses, flows, is_email_verified
from django_verified_email.exceptions import EmailTaken, SameEmail
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    email_of,
    no_cooldown,
    reloaded,
    request_change,
    serving,
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
    # Addressed in ASCII form: Django's mail layer would apply IDNA 2003.
    assert message.to == ["alice@xn--bcher-kva.de"]
    confirm = f"/account/email/change/confirm/{token_in(message)}/"
    assert Client().post(confirm).status_code == 302
    user = reloaded(user)
    assert email_of(user) == "alice@b\u00fccher.de"
    assert is_email_verified(user)


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


def test_an_address_is_taken_only_in_the_tenant_that_holds_it(make_user, tenant_users, settings):
    no_cooldown(settings)
    make_user("acme-bob", "bob@example.com")
    alice = make_user("acme-alice", "alice@acme.example")
    carol = make_user("globex-carol", "carol@globex.example")

    # Each tenant in turn: no tenant's answer is kept for the next.
    for _ in range(2):
        with serving("acme"), pytest.raises(EmailTaken):
            flows.request_change(alice, "bob@example.com", PASSWORD, base_url=BASE_URL)
        with serving("globex"):
            change = flows.request_change(carol, "bob@example.com", PASSWORD, base_url=BASE_URL)
        assert change.new_email == "bob@example.com"


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


# IDNA 2008 / UTS 46 non-transitional, and what mail can be sent to.


@pytest.mark.parametrize(
    ("address", "ascii_address"),
    [
        # IDNA 2003 (Python's codec) would map these to "strasse.de" and
        # "xn--mxa0b.gr" (final sigma as sigma): other domains, other owners.
        ("alice@stra\u00dfe.de", "alice@xn--strae-oqa.de"),
        ("alice@STRA\u00dfE.de", "alice@xn--strae-oqa.de"),
        ("alice@\u03b1\u03c2.gr", "alice@xn--mxa8a.gr"),
        # The ideographic full stop separates labels.
        ("alice@\u4f8b\u3048\u3002\u30c6\u30b9\u30c8", "alice@xn--r8jz45g.xn--zckzah"),
        # Plain ASCII names IDNA 2008 would refuse are host names all the same.
        ("alice@a--b.example.com", "alice@a--b.example.com"),
    ],
)
def test_idna_2008_non_transitional(address, ascii_address):
    assert addresses.ascii_form(address) == ascii_address
    assert addresses.is_valid(addresses.normalize(address))


def test_strasse_and_strasse_with_eszett_are_two_addresses():
    assert not addresses.same_address("alice@stra\u00dfe.de", "alice@strasse.de")


def test_mail_to_an_eszett_domain_goes_to_that_domain(make_user, mailoutbox):
    user = make_user(verified=False)

    assert request_change(client_for(user), "alice@stra\u00dfe.de").status_code == 302

    [message] = mailoutbox
    assert message.to == ["alice@xn--strae-oqa.de"]
    assert "alice@xn--strae-oqa.de" in message.message()["To"]
    assert flows.pending_change(user).new_email == "alice@stra\u00dfe.de"


UNSENDABLE = [
    # Django's validator accepts these; the mail layer fails on them once
    # the change is saved (a header may not hold a line separator; a label
    # longer than 63 octets once encoded).
    "alice@ex\u2028ample.com",
    "alice@" + "\u00fc" * 60 + ".de",
    # No IDNA 2008 form: a bad A-label, a disallowed code point.
    "alice@xn--zz.de",
    "alice@exa\u2764mple.com",
]
LOCAL = ["alice@[10.0.0.5]", "root@localhost", "alice@[IPv6:::1]"]


@pytest.mark.parametrize("address", UNSENDABLE + LOCAL)
def test_addresses_no_mail_can_reach_are_refused_up_front(make_user, mailoutbox, address):
    user = make_user(verified=False)
    browser = client_for(user)
    browser.raise_request_exception = True

    response = request_change(browser, address)

    assert response.status_code == 200
    assert b"valid email address" in response.content
    assert not mailoutbox
    assert not flows.pending_change(user)


@pytest.mark.parametrize("address", LOCAL[:2])
def test_local_addresses_are_accepted_when_the_host_allows_them(
    make_user, mailoutbox, settings, address
):
    settings.VERIFIED_EMAIL = {"ALLOW_LOCAL_ADDRESSES": True}
    user = make_user(verified=False)

    assert request_change(client_for(user), address).status_code == 302

    [message] = mailoutbox
    assert message.to == [address.lower()]


# Look-alikes: what the old address is asked to approve is shown plainly.

LOOK_ALIKE = "alice@ex\u0430mple.com"  # a Cyrillic a
LOOK_ALIKE_ASCII = "alice@xn--exmple-4nf.com"
WARNING = "looks like your current one, but it is a different address"


@pytest.mark.parametrize(
    ("first", "second", "alike"),
    [
        ("alice@example.com", LOOK_ALIKE, True),
        ("alice@example.com", "alice@examp1e.com", True),
        ("alice@example.com", "aIice@example.com", True),
        ("alice@example.com", "ALICE@example.com", False),  # the same address
        ("alice@example.com", "bob@example.com", False),
        ("alice@b\u00fccher.de", "alice@bucher.de", False),
    ],
)
def test_look_alikes(first, second, alike):
    assert addresses.looks_alike(first, second) is alike


def test_the_old_address_sees_the_ascii_form_and_a_warning_for_a_look_alike(user, mailoutbox):
    flows.request_change(user, LOOK_ALIKE, PASSWORD, base_url=BASE_URL)

    [message] = mailoutbox
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert LOOK_ALIKE_ASCII in body
        assert WARNING in body

    page = Client().get(f"/account/email/change/confirm/{token_in(message)}/")
    assert LOOK_ALIKE_ASCII in page.text
    assert WARNING in page.text


def test_an_ordinary_new_address_brings_no_warning(user, mailoutbox, settings):
    no_cooldown(settings)
    flows.request_change(user, "alice@b\u00fccher.de", PASSWORD, base_url=BASE_URL)

    [message] = mailoutbox
    assert "alice@xn--bcher-kva.de" in message.body
    assert WARNING not in message.body
    page = Client().get(f"/account/email/change/confirm/{token_in(message)}/")
    assert WARNING not in page.text
    flows.request_change(user, "other@example.com", PASSWORD, base_url=BASE_URL)
    assert "plain letters" not in mailoutbox[-1].body


def test_the_look_alike_table_ships_with_the_package():
    # Made by scripts/generate-confusables; read with the core install alone.
    table = addresses._prototypes()
    assert table["\u0430"] == "a"
    assert table["\u0435"] == "e"
    assert len(table) > 3000


_ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"


@settings(max_examples=300, deadline=None)
@given(
    local=st.lists(st.text(_ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).filter(
        lambda atoms: "=?" not in ".".join(atoms)
    ),
    labels=st.lists(st.text("abcxyz019-", min_size=1, max_size=10), min_size=2, max_size=4),
)
def test_plain_atom_addresses_are_what_the_mail_layer_accepts(local, labels):
    # The shortcut must say what building a message says, for every address
    # it answers without building one.
    address = f"{'.'.join(local)}@{'.'.join(labels)}"
    assert addresses._mail_layer_shortcut(address)
    assert EmailMessage(to=[address], from_email="a@example.com").message()["To"]


def mail_layer_accepts(address):
    try:
        EmailMessage(to=[address], from_email="check@example.com").message()
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "address", ["=?utf-8?q?=0A?=@example.com", "=?utf-8?q?=0D=0Abcc=3A_x?=@example.com"]
)
def test_an_encoded_word_local_part_is_judged_by_the_mail_layer(address):
    # Plain atoms, but "=?" starts an RFC 2047 encoded word, which Django 6's
    # header parser decodes (here into a line break) and refuses.
    assert not addresses._mail_layer_shortcut(address)
    assert addresses.is_valid(address) == mail_layer_accepts(address)


@pytest.mark.parametrize(
    "address",
    [
        '"quoted local"@example.com',
        "alice@b\u00fccher.example",
        "alice@[10.0.0.5]",
        "al ice@example.com",
    ],
)
def test_addresses_beyond_plain_atoms_go_through_the_mail_layer(address):
    assert not addresses._mail_layer_shortcut(address)
