"""One-time codes beside links: every step by code through the HTML pages, the
refusals (wrong, expired, replaced, used, another account's), the limits per code
and per account per day, hash-only storage, and that a link and the code of the
same step cannot both be used."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client

from django_verified_email import codes, emails, flows, is_email_verified
from django_verified_email.exceptions import InvalidCode
from django_verified_email.models import EmailChange, OneTimeCode, WrongCode
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    client_for,
    code_in,
    codes_in,
    email_of,
    later,
    link_path,
    links_in,
    no_cooldown,
    reloaded,
    request_change,
    save_verified,
    send_verification,
    token_in,
    url,
)

# Every flow on every database and store: the mariadb envs run these too.
pytestmark = pytest.mark.flows

NEW = "alice.new@example.com"


def type_code(client, name, code):
    return client.post(url(name), {"code": code})


def wrong(code):
    """A well-formed code that is not ``code``."""
    digits = code.replace("-", "")
    flipped = f"{(int(digits) + 1) % 10**6:06d}"
    return f"{flipped[:3]}-{flipped[3:]}"


@pytest.fixture
def settings_no_cooldown(settings):
    no_cooldown(settings)
    return settings


@pytest.fixture
def unverified(make_user):
    return make_user("una", "una@example.com", verified=False)


@pytest.fixture
def alice_client(user):
    return client_for(user)


# Every email with a link carries a code -------------------------------------


def test_each_link_email_carries_one_code_in_both_bodies(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    old = mailoutbox[-1]
    assert re.fullmatch(r"\d{3}-\d{3}", code_in(old, to="alice@example.com"))
    # The same code in the text and the HTML body.
    assert code_in(old) in old.body
    assert code_in(old) in old.alternatives[0][0]

    flows.confirm_change(token_in(old), base_url=BASE_URL)
    new = mailoutbox[-1]
    assert code_in(new, to=NEW) != code_in(old)

    flows.confirm_change(token_in(new), base_url=BASE_URL)
    # The completion and the notice to the old address carry no code.
    assert [codes_in(m) for m in mailoutbox[2:]] == [[], []]


def test_the_verification_email_carries_a_code(unverified, mailoutbox):
    send_verification(client_for(unverified))

    assert code_in(mailoutbox[-1], to="una@example.com")
    assert links_in(mailoutbox[-1])


def test_a_taken_address_notice_shows_no_code(settings, make_user, user, mailoutbox):
    settings.VERIFIED_EMAIL = {"REVEAL_TAKEN_EMAIL": False}
    # Proved by Bob: an address only typed would not count as taken.
    make_user("bob", "bob@example.com", verified=True)
    flows.request_change(
        make_user("amy", "amy@example.com", verified=False),
        "bob@example.com",
        PASSWORD,
        base_url=BASE_URL,
    )

    [notice] = mailoutbox
    assert notice.to == ["bob@example.com"]
    assert codes_in(notice) == []


# Every step by code, HTML ------------------------------------------------------


def test_verify_by_code(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    code = code_in(mailoutbox[-1])

    response = type_code(browser, "verify-code", code)

    assert response.status_code == 302
    assert is_email_verified(reloaded(unverified))
    # The link of the same email is dead now.
    assert Client().post(link_path(mailoutbox[-1])).status_code == 400


def test_dual_link_change_by_codes(user, alice_client, mailoutbox):
    elsewhere = client_for(user)
    request_change(alice_client, NEW)

    response = type_code(alice_client, "change-code", code_in(mailoutbox[-1]))

    assert response.status_code == 200
    assert b"One more step" in response.content
    # The page offers a box for the next code, posting to change/code/.
    assert url("change-code").encode() in response.content
    assert EmailChange.objects.get().status == "awaiting_new"
    assert email_of(reloaded(user)) == "alice@example.com"

    response = type_code(alice_client, "change-code", code_in(mailoutbox[-1], to=NEW))

    assert response.status_code == 302
    alice = reloaded(user)
    assert email_of(alice) == NEW
    assert is_email_verified(alice)
    assert EmailChange.objects.get().status == "completed"
    assert [m.to for m in mailoutbox[2:]] == [[NEW], ["alice@example.com"]]
    # Still logged in after the change; the account's other sessions ended.
    assert alice_client.get(url("status")).status_code == 200
    assert elsewhere.get(url("status")).status_code == 302


def test_add_email_by_code(make_user, mailoutbox):
    amy = make_user("amy", "", verified=False)
    browser = client_for(amy)
    request_change(browser, "amy@example.com")

    response = type_code(browser, "change-code", code_in(mailoutbox[-1], to="amy@example.com"))

    assert response.status_code == 302
    assert email_of(reloaded(amy)) == "amy@example.com"


@pytest.mark.parametrize(
    "spelling",
    [
        lambda code: code,
        lambda code: code.replace("-", ""),
        lambda code: f"  {code[:3]} {code[4:]}  ",
        lambda code: code.replace("-", " - "),
        lambda code: code.replace("-", "\u2013"),  # an en dash, as phones type
        # Devanagari digits, as a Nepali keyboard types them.
        lambda code: "".join(chr(0x0966 + int(c)) if c.isdigit() else c for c in code),
        # Full-width digits.
        lambda code: "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in code),
    ],
    ids=["as sent", "no dash", "spaces", "spaced dash", "en dash", "devanagari", "full width"],
)
def test_a_code_is_accepted_however_it_is_typed(spelling, unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)

    response = type_code(browser, "verify-code", spelling(code_in(mailoutbox[-1])))

    assert response.status_code == 302
    assert is_email_verified(reloaded(unverified))


def test_the_code_box_of_the_one_more_step_page_posts_back_to_the_link(
    user, alice_client, mailoutbox
):
    # A page a link opened sends no referrer, so its forms reach other URLs
    # with "Origin: null", which CSRF protection refuses: the box posts to
    # the link's own URL, and the (used) link proves the page was the user's.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    request_change(alice_client, NEW)
    old_link = link_path(mailoutbox[-1])

    page = browser.post(old_link)
    assert page.status_code == 200
    assert b'action=""' in page.content

    response = browser.post(old_link, {"code": code_in(mailoutbox[-1], to=NEW)})

    assert response.status_code == 302
    assert email_of(reloaded(user)) == NEW


def test_the_code_box_on_a_link_page_needs_the_accounts_login(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    old_link = link_path(mailoutbox[-1])
    Client().post(old_link)
    code = code_in(mailoutbox[-1])

    response = Client().post(old_link, {"code": code})

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert "confirm" not in response["Location"]
    assert EmailChange.objects.get().status == "awaiting_new"


def test_the_code_box_on_a_link_page_of_another_account_is_refused(
    make_user, user, alice_client, mailoutbox
):
    bob = make_user("bob", "bob@example.com")
    request_change(alice_client, NEW)
    old_link = link_path(mailoutbox[-1])
    Client().post(old_link)

    response = client_for(bob).post(old_link, {"code": code_in(mailoutbox[-1])})

    assert response.status_code == 400
    assert EmailChange.objects.get().status == "awaiting_new"


def test_the_status_page_shows_a_code_box_while_a_step_waits(
    unverified, user, alice_client, mailoutbox
):
    page = client_for(unverified).get(url("status"))
    assert url("verify-code").encode() in page.content

    assert url("change-code").encode() not in alice_client.get(url("status")).content
    request_change(alice_client, NEW)
    page = alice_client.get(url("status"))
    assert url("change-code").encode() in page.content
    assert b'autocomplete="one-time-code"' in page.content


def test_the_code_pages_need_a_login(user, mailoutbox):
    for name in ("verify-code", "change-code"):
        response = Client().post(url(name), {"code": "123-456"})
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_the_code_pages_show_a_form(unverified, user, alice_client, mailoutbox):
    assert client_for(unverified).get(url("verify-code")).status_code == 200
    request_change(alice_client, NEW)
    page = alice_client.get(url("change-code"))
    assert page.status_code == 200
    assert b"alice@example.com" in page.content


# Refusals ----------------------------------------------------------------------


def test_a_wrong_code_is_refused_and_the_right_one_still_works(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])

    response = type_code(alice_client, "change-code", wrong(code))

    assert response.status_code == 400
    assert b"This code is not right" in response.content
    assert EmailChange.objects.get().status == "awaiting_old"
    assert type_code(alice_client, "change-code", code).status_code == 200


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abc-def", "123-45x", "9" * 100])
def test_something_that_is_not_a_code_is_refused_uncounted(typed, user, alice_client, mailoutbox):
    request_change(alice_client, NEW)

    response = type_code(alice_client, "change-code", typed)

    assert response.status_code == 400
    assert WrongCode.objects.count() == 0
    assert OneTimeCode.objects.get().failures == 0


def test_an_expired_code_is_refused(settings, unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    code = code_in(mailoutbox[-1])

    with later(900):
        response = type_code(browser, "verify-code", code)

    assert response.status_code == 410
    assert not is_email_verified(reloaded(unverified))
    # Its link still works: it lives LINK_MAX_AGE.
    with later(900):
        assert Client().post(link_path(mailoutbox[-1])).status_code == 302


def test_code_max_age_is_a_setting(settings, unverified, mailoutbox):
    settings.VERIFIED_EMAIL = {"CODE_MAX_AGE": 60}
    browser = client_for(unverified)
    send_verification(browser)
    code = code_in(mailoutbox[-1])
    assert "1 minute" in mailoutbox[-1].body

    with later(60):
        assert type_code(browser, "verify-code", code).status_code == 410
    with later(59):
        assert type_code(browser, "verify-code", code).status_code == 302


def test_a_resend_replaces_the_code(settings_no_cooldown, user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    first = code_in(mailoutbox[-1])
    alice_client.post(url("change-resend"))
    second = code_in(mailoutbox[-1])

    response = type_code(alice_client, "change-code", first)

    assert response.status_code == 410
    assert EmailChange.objects.get().status == "awaiting_old"
    assert type_code(alice_client, "change-code", second).status_code == 200


def test_a_new_request_replaces_the_code(settings_no_cooldown, user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    first = code_in(mailoutbox[-1])
    request_change(alice_client, "alice.other@example.com")

    assert type_code(alice_client, "change-code", first).status_code == 410
    assert EmailChange.objects.get(status="superseded").new_email == NEW


def test_a_new_verification_email_replaces_the_code(settings_no_cooldown, unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    first = code_in(mailoutbox[-1])
    send_verification(browser)

    assert type_code(browser, "verify-code", first).status_code == 410
    assert type_code(browser, "verify-code", code_in(mailoutbox[-1])).status_code == 302


def test_a_used_code_is_refused(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    code = code_in(mailoutbox[-1])
    assert type_code(browser, "verify-code", code).status_code == 302

    assert type_code(browser, "verify-code", code).status_code == 410


def test_a_used_change_code_is_refused(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    old = code_in(mailoutbox[-1])
    type_code(alice_client, "change-code", old)
    type_code(alice_client, "change-code", code_in(mailoutbox[-1]))

    assert type_code(alice_client, "change-code", old).status_code == 410
    assert email_of(reloaded(user)) == NEW


def test_another_accounts_code_is_refused(make_user, user, alice_client, mailoutbox):
    bob = make_user("bob", "bob@example.com")
    bob_client = client_for(bob)
    request_change(alice_client, NEW)
    alices = code_in(mailoutbox[-1])

    # Bob has no change waiting: nothing to compare with.
    assert type_code(bob_client, "change-code", alices).status_code == 410
    request_change(bob_client, "bob.new@example.com")
    # Bob's own waiting step: Alice's code is just a wrong one for it.
    assert type_code(bob_client, "change-code", alices).status_code == 400
    assert EmailChange.objects.get(user=user).status == "awaiting_old"
    assert type_code(alice_client, "change-code", alices).status_code == 200


def test_a_code_dies_with_a_new_password(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])
    user.set_password("another long passphrase")
    user.save()
    browser = client_for(user)

    assert type_code(browser, "change-code", code).status_code == 400
    assert EmailChange.objects.get().status == "awaiting_old"


def test_a_verification_code_dies_with_a_new_address(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    code = code_in(mailoutbox[-1])
    unverified.email_address = "una.other@example.com"
    unverified.save()

    assert type_code(client_for(unverified), "verify-code", code).status_code == 400
    assert not is_email_verified(reloaded(unverified))


# Limits ------------------------------------------------------------------------


def test_the_code_is_used_up_after_five_wrong_tries(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])

    statuses = [type_code(alice_client, "change-code", wrong(code)).status_code for _ in range(5)]

    assert statuses == [400, 400, 400, 400, 410]
    response = type_code(alice_client, "change-code", code)
    assert response.status_code == 410
    assert EmailChange.objects.get().status == "awaiting_old"
    # The link still works.
    assert Client().post(link_path(mailoutbox[-1])).status_code == 200


def test_the_per_code_limit_is_a_setting(settings, user, alice_client, mailoutbox):
    settings.VERIFIED_EMAIL = {"CODE_MAX_ATTEMPTS": 2}
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])

    statuses = [type_code(alice_client, "change-code", wrong(code)).status_code for _ in range(2)]

    assert statuses == [400, 410]


def test_wrong_tries_are_limited_per_account_per_day_across_resends(
    settings_no_cooldown, user, alice_client, mailoutbox
):
    request_change(alice_client, NEW)
    statuses = []
    # 20 wrong codes, 4 per code, a resend after each four: fresh codes do
    # not buy fresh tries.
    for _ in range(5):
        code = code_in(mailoutbox[-1])
        statuses += [
            type_code(alice_client, "change-code", wrong(code)).status_code for _ in range(4)
        ]
        alice_client.post(url("change-resend"))
    code = code_in(mailoutbox[-1])

    assert statuses == [400] * 20
    response = type_code(alice_client, "change-code", code)
    assert response.status_code == 410
    assert b"Too many wrong codes today" in response.content
    assert EmailChange.objects.get().status == "awaiting_old"

    # 24 hours after the first wrong try, the tries come back one by one.
    with later(86400):
        alice_client.post(url("change-resend"))
        assert type_code(alice_client, "change-code", code_in(mailoutbox[-1])).status_code == 200


def test_the_day_is_rolling(settings_no_cooldown, user, alice_client, mailoutbox):
    settings_no_cooldown.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CODE_MAX_ATTEMPTS_PER_DAY": 2}
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])
    assert type_code(alice_client, "change-code", wrong(code)).status_code == 400
    with later(43200):
        alice_client.post(url("change-resend"))
        code = code_in(mailoutbox[-1])
        assert type_code(alice_client, "change-code", wrong(code)).status_code == 400
        assert type_code(alice_client, "change-code", code).status_code == 410
    # A day after the first wrong try, one try is back; not two.
    with later(86400):
        alice_client.post(url("change-resend"))
        code = code_in(mailoutbox[-1])
        assert type_code(alice_client, "change-code", wrong(code)).status_code == 400
        assert type_code(alice_client, "change-code", code).status_code == 410
    with later(43200 + 86400):
        alice_client.post(url("change-resend"))
        assert type_code(alice_client, "change-code", code_in(mailoutbox[-1])).status_code == 200


def test_the_day_limit_counts_every_step(settings_no_cooldown, make_user, mailoutbox):
    settings_no_cooldown.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, "CODE_MAX_ATTEMPTS_PER_DAY": 3}
    una = make_user("una", "una@example.com", verified=False)
    browser = client_for(una)
    send_verification(browser)
    code = code_in(mailoutbox[-1])
    for _ in range(3):
        type_code(browser, "verify-code", wrong(code))
    request_change(browser, "una.new@example.com")

    # The change's code is refused too: the account's day is used up.
    assert type_code(browser, "change-code", code_in(mailoutbox[-1])).status_code == 410


def test_old_wrong_tries_are_cleaned_up(settings_no_cooldown, user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    type_code(alice_client, "change-code", wrong(code_in(mailoutbox[-1])))
    with later(86400 + 1):
        alice_client.post(url("change-resend"))
        type_code(alice_client, "change-code", wrong(code_in(mailoutbox[-1])))
    assert WrongCode.objects.count() == 1


# Storage -----------------------------------------------------------------------


def test_only_a_keyed_hash_is_stored(settings, user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    code = code_in(mailoutbox[-1])
    digits = code.replace("-", "")

    [row] = OneTimeCode.objects.values()
    stored = " ".join(str(value) for value in row.values())
    assert digits not in stored
    assert code not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", row["digest"])
    # Not an unkeyed hash either: trying all million codes without the key
    # finds nothing (sampled here: the code itself under every plain hash).
    import hashlib

    for name in ("sha256", "sha1", "md5", "sha512"):
        for text in (digits, code):
            assert hashlib.new(name, text.encode()).hexdigest() not in stored
    # Keyed with SECRET_KEY: under another key the right code does not match.
    settings.SECRET_KEY = "another-secret-key-that-is-long-enough-to-be-fine-0123456789"
    with pytest.raises(InvalidCode):
        flows.confirm_change_by_code(reloaded(user), code, base_url=BASE_URL)
    assert EmailChange.objects.get().status == "awaiting_old"


def test_a_code_survives_a_key_rotation_through_the_fallbacks(settings, user, mailoutbox):
    request_change(client_for(user), NEW)
    code = code_in(mailoutbox[-1])
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-that-is-long-enough-to-be-fine-0123456789"
    settings.SECRET_KEY_FALLBACKS = [old_key]

    change = flows.confirm_change_by_code(reloaded(user), code, base_url=BASE_URL)

    assert change.status == "awaiting_new"


def test_a_used_code_leaves_no_hash(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    type_code(browser, "verify-code", code_in(mailoutbox[-1]))

    assert OneTimeCode.objects.get().digest == ""


def test_a_code_is_made_only_for_a_message_still_due(settings_no_cooldown, user, mailoutbox):
    first = flows.request_change(user, NEW, PASSWORD, base_url=BASE_URL)
    live = OneTimeCode.objects.get(purpose=codes.CHANGE_OLD)
    second = flows.request_change(user, "alice.other@example.com", PASSWORD, base_url=BASE_URL)
    current = OneTimeCode.objects.get(purpose=codes.CHANGE_OLD)
    assert current.change_pk == second.pk
    assert current.digest != live.digest

    # A worker late with the first change's message: nothing sent, nothing stored.
    assert emails.build(emails.CHANGE_CONFIRM_OLD, user_id=user.pk, change_id=first.pk) is None
    # Nor when the step moved on between the check and the code.
    stale = EmailChange.objects.get(pk=second.pk)
    stale.link_generation -= 1
    assert codes.issue(codes.CHANGE_OLD, user, change=stale) is None
    assert OneTimeCode.objects.get(purpose=codes.CHANGE_OLD).digest == current.digest


def test_a_replaced_code_keeps_the_old_digest(settings_no_cooldown, user, mailoutbox):
    # One UPDATE copies the old digest and writes the new one: MySQL and
    # MariaDB assign left to right, so the copy must come first.
    flows.request_change(user, NEW, PASSWORD, base_url=BASE_URL)
    first = OneTimeCode.objects.get(user=user, purpose=codes.CHANGE_OLD)

    flows.request_change(user, "alice.other@example.com", PASSWORD, base_url=BASE_URL)

    again = OneTimeCode.objects.get(user=user, purpose=codes.CHANGE_OLD)
    assert again.replaced_digest == first.digest != again.digest
    assert again.change_pk != first.change_pk and again.failures == 0


def test_a_verification_code_is_not_made_once_verified(unverified, mailoutbox):
    verified = reloaded(unverified)
    save_verified(verified)

    assert codes.issue(codes.VERIFY, unverified) is None
    assert not OneTimeCode.objects.exists()


def test_codes_are_random_and_well_formed():
    made = {codes.generate() for _ in range(200)}
    assert len(made) > 190
    assert all(re.fullmatch(r"\d{6}", code) for code in made)
    assert codes.display("012345") == "012-345"
    assert codes.normalize("012 345") == "012345"
    assert codes.normalize(None) is None
    assert codes.normalize(12345) is None


# A link and the code of the same step: only one works ---------------------------


def test_verify_link_then_code(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    assert Client().post(link_path(mailoutbox[-1])).status_code == 302

    assert type_code(browser, "verify-code", code_in(mailoutbox[-1])).status_code == 410


def test_verify_code_then_link(unverified, mailoutbox):
    browser = client_for(unverified)
    send_verification(browser)
    assert type_code(browser, "verify-code", code_in(mailoutbox[-1])).status_code == 302

    assert Client().post(link_path(mailoutbox[-1])).status_code == 400


def test_old_link_then_old_code(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    old = mailoutbox[-1]
    assert Client().post(link_path(old)).status_code == 200
    new_code = code_in(mailoutbox[-1])

    response = type_code(alice_client, "change-code", code_in(old))

    assert response.status_code == 410  # used (by its link), not a wrong try at the new code
    assert EmailChange.objects.get().status == "awaiting_new"
    assert len(mailoutbox) == 2
    assert type_code(alice_client, "change-code", new_code).status_code == 302


def test_old_code_then_old_link(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    old = mailoutbox[-1]
    assert type_code(alice_client, "change-code", code_in(old)).status_code == 200

    assert Client().post(link_path(old)).status_code == 400
    assert EmailChange.objects.get().status == "awaiting_new"
    assert len(mailoutbox) == 2


def test_new_link_then_new_code(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    Client().post(link_path(mailoutbox[-1]))
    new = mailoutbox[-1]
    assert Client().post(link_path(new)).status_code == 302

    assert type_code(client_for(reloaded(user)), "change-code", code_in(new)).status_code == 410


def test_new_code_then_new_link(user, alice_client, mailoutbox):
    request_change(alice_client, NEW)
    Client().post(link_path(mailoutbox[-1]))
    new = mailoutbox[-1]
    assert type_code(alice_client, "change-code", code_in(new)).status_code == 302

    assert Client().post(link_path(new)).status_code == 400
    assert get_user_model().objects.get(pk=user.pk).email_address == NEW


# A password-hash upgrade at login (L13: a documented limit) ----------------


class QuickPBKDF2(PBKDF2PasswordHasher):
    """A newer hasher than the suite's MD5, cheap enough for a test."""

    iterations = 2


def test_a_hash_upgrade_at_login_voids_pending_links_and_codes(
    settings, user, alice_client, mailoutbox
):
    # Pins a documented limit (docs/security.md, "A password-hash upgrade at
    # login"): links and codes are bound to the password hash, and nothing
    # public tells Django's re-hash at login from a new password.
    request_change(alice_client, NEW)
    link, code = link_path(mailoutbox[-1]), code_in(mailoutbox[-1])
    settings.PASSWORD_HASHERS = [
        "tests.test_codes.QuickPBKDF2",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    hash_before = reloaded(user).password
    owner = Client()
    assert owner.login(username="alice", password=PASSWORD)  # Django re-hashes here
    assert reloaded(user).password != hash_before
    assert reloaded(user).password.startswith("pbkdf2_sha256$2$")

    assert type_code(owner, "change-code", code).status_code == 400
    assert Client().post(link).status_code == 400
    assert EmailChange.objects.get().status == "awaiting_old"
    # The right code counted as a wrong try.
    assert WrongCode.objects.filter(user_id=user.pk).count() == 1
