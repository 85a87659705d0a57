"""Security emails say when, from where and on what device a change was asked for.

The old address's confirmation and its "address changed" notice name the
request that started the change: its time (in the user's time zone), the
client's IP address (from a proxy header only when the host names one) and the
browser and system of its User-Agent. The emails of a deny or a revert name
the request that refused the change, the same way, to every address that
proved itself for the account (not the unproved new address of a deny).
"""

import sys
from datetime import datetime, timezone

import pytest
import time_machine
from django.utils import translation

from django_verified_email import flows, request_context
from django_verified_email.models import EmailChange
from django_verified_email.request_context import RequestContext
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    REVERT_PAGE,
    later,
    link_path,
    links_in,
    request_change,
    revert_path,
    revert_token_in,
    token_in,
    url,
)

pytest.importorskip("ua_parser")

FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:131.0) Gecko/131.0 Firefox/131.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# A Sunday.
NOW = datetime(2026, 11, 29, 10, 42, tzinfo=timezone.utc)
WHEN = "Sunday 29 November 2026, 10:42 UTC"
SENTENCE = (
    f"This was requested on {WHEN} from the IP address 27.34.1.2, using Firefox Mobile on Android."
)


def kathmandu(user):
    return "Asia/Kathmandu"


def no_zone(user):
    return None


def unknown_zone(user):
    return "Mars/Olympus_Mons"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ve_settings(settings):
    def set_(**values):
        settings.VERIFIED_EMAIL = {"RESEND_COOLDOWN": 0, **values}

    set_()
    return set_


def ask(client, *, ip="27.34.1.2", agent=FIREFOX_ANDROID, **headers):
    response = request_change(
        client, "alice.new@example.com", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent, **headers
    )
    assert response.status_code == 302, response.content
    return EmailChange.objects.get(status="awaiting_old")


def bodies(message):
    [html] = [body for body, mimetype in message.alternatives if mimetype == "text/html"]
    return message.body, html


def assert_says(message, sentence):
    text, html = bodies(message)
    assert sentence in text
    assert sentence in html


def test_the_old_address_confirmation_says_when_from_where_and_on_what(
    ve_settings, logged_in, mailoutbox
):
    change = ask(logged_in)

    assert (change.requested_ip, change.requested_browser, change.requested_os) == (
        "27.34.1.2",
        "Firefox Mobile",
        "Android",
    )
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert_says(message, SENTENCE)
    text, _ = bodies(message)
    # Its own paragraph, between the request and the link.
    assert f"\n\n{SENTENCE}\n\n" in text


def test_the_address_changed_notice_names_the_request_that_started_the_change(
    ve_settings, logged_in, client, mailoutbox
):
    ask(logged_in)
    # The links are opened elsewhere (a phone's mail app): the notice still
    # names who asked, the one who knew the password.
    client.post(link_path(mailoutbox[0]), REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="x")
    client.post(link_path(mailoutbox[1]), REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="x")

    [notice] = [m for m in mailoutbox if links_in(m, REVERT_PAGE)]
    assert notice.to == ["alice@example.com"]
    assert_says(notice, SENTENCE)
    assert "198.51.100.7" not in notice.body


def test_a_resend_keeps_the_context_of_the_request_that_started_the_change(
    ve_settings, logged_in, mailoutbox
):
    ask(logged_in)
    logged_in.post(url("change-resend"), REMOTE_ADDR="203.0.113.9")

    assert len(mailoutbox) == 2
    assert_says(mailoutbox[1], SENTENCE)


def test_a_change_started_outside_a_request_says_nothing_of_one(ve_settings, user, mailoutbox):
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)

    [message] = mailoutbox
    text, html = bodies(message)
    assert "This was requested" not in text
    assert "This was requested" not in html
    # No stray blank lines where the paragraph would be.
    assert "\n\n\n" not in text


# The client's IP address


def test_a_spoofed_x_forwarded_for_is_ignored_by_default(ve_settings, logged_in, mailoutbox):
    change = ask(logged_in, ip="192.0.2.10", HTTP_X_FORWARDED_FOR="6.6.6.6")

    assert change.requested_ip == "192.0.2.10"
    assert "from the IP address 192.0.2.10," in mailoutbox[0].body
    assert "6.6.6.6" not in mailoutbox[0].body


def test_the_header_the_host_names_is_read_from_its_own_proxys_entry(
    ve_settings, logged_in, mailoutbox
):
    ve_settings(CLIENT_IP_HEADER="X-Forwarded-For")

    # The client wrote "6.6.6.6"; the host's proxy appended the address it
    # saw. REMOTE_ADDR is the proxy.
    change = ask(logged_in, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 27.34.1.2")

    assert change.requested_ip == "27.34.1.2"
    assert_says(mailoutbox[0], SENTENCE)
    assert "6.6.6.6" not in mailoutbox[0].body
    assert "10.0.0.2" not in mailoutbox[0].body


@pytest.mark.parametrize(
    ("header", "count", "value", "expected"),
    [
        ("X-Forwarded-For", 1, "27.34.1.2", "27.34.1.2"),
        ("X-Forwarded-For", 1, "6.6.6.6,27.34.1.2", "27.34.1.2"),
        ("X-Forwarded-For", 2, "6.6.6.6, 27.34.1.2, 10.0.0.3", "27.34.1.2"),
        # Fewer entries than proxies: it did not come through them all.
        ("X-Forwarded-For", 2, "27.34.1.2", None),
        ("X-Forwarded-For", 1, None, None),
        ("X-Forwarded-For", 1, "", None),
        ("X-Forwarded-For", 1, "not-an-ip", None),
        ("X-Forwarded-For", 1, "27.34.1.2:443", None),
        ("X-Forwarded-For", 1, "[2001:db8::1]", "2001:db8::1"),
        ("X-Forwarded-For", 1, "2001:0db8:0000::0001", "2001:db8::1"),
        ("X-Real-IP", 1, "27.34.1.2", "27.34.1.2"),
    ],
)
def test_client_ip_from_a_named_header(ve_settings, header, count, value, expected):
    meta = {"REMOTE_ADDR": "10.0.0.2"}
    if value is not None:
        meta["HTTP_" + header.upper().replace("-", "_")] = value

    for name in (header, "HTTP_" + header.upper().replace("-", "_")):
        ve_settings(CLIENT_IP_HEADER=name, CLIENT_IP_PROXY_COUNT=count)
        assert request_context.client_ip(meta) == expected


@pytest.mark.parametrize(
    ("remote_addr", "expected"),
    [("27.34.1.2", "27.34.1.2"), ("::1", "::1"), ("", None), (None, None), ("garbage", None)],
)
def test_client_ip_from_the_connection(ve_settings, remote_addr, expected):
    assert request_context.client_ip({"REMOTE_ADDR": remote_addr}) == expected


def test_ip_capture_can_be_turned_off(ve_settings, logged_in, mailoutbox):
    ve_settings(CAPTURE_IP=False)

    change = ask(logged_in)

    assert change.requested_ip is None
    assert_says(mailoutbox[0], f"This was requested on {WHEN}, using Firefox Mobile on Android.")
    text, html = bodies(mailoutbox[0])
    assert "27.34.1.2" not in text
    assert "27.34.1.2" not in html


# The device


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (CHROME_WINDOWS, "Chrome on Windows"),
        ("curl/8.0", "an automated client"),
        (
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "an automated client",
        ),
        # The sentence an intruder writes is never what the owner reads.
        (
            "Mozilla/5.0 (compatible; This was you on your iPhone no action needed Bot/1.0)",
            "an automated client",
        ),
        ("This was you on your iPhone no action needed crawler", "an unknown browser on iOS"),
        ("Mozilla/5.0 (X11; Linux x86_64) Thiswasyou/1.0 Firefox/120.0", "Firefox on Linux"),
        ("", "an unknown browser"),
        ("SomeThing/1.0 (Windows NT 10.0)", "an unknown browser on Windows"),
        ("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A)", "Android"),
        ("x" * 100_000, "an unknown browser"),
    ],
)
def test_the_device_is_a_short_description(ve_settings, logged_in, mailoutbox, agent, device):
    ask(logged_in, agent=agent)

    assert_says(mailoutbox[0], f"from the IP address 27.34.1.2, using {device}.")


def test_a_name_outside_the_vocabulary_stored_before_is_not_printed(
    ve_settings, logged_in, mailoutbox
):
    change = ask(logged_in)
    change.requested_browser = "This was you on your iPhone no action needed"
    change.requested_os = "Relax"
    change.save()
    mailoutbox.clear()

    flows.resend_change(change.user, base_url=BASE_URL)

    assert_says(mailoutbox[0], "from the IP address 27.34.1.2, using an unknown browser.")
    text, html = bodies(mailoutbox[0])
    assert "no action needed" not in text + html


def test_without_a_parser_the_browser_is_unknown(ve_settings, logged_in, mailoutbox, monkeypatch):
    # An import of a module set to None in sys.modules raises ImportError.
    monkeypatch.setitem(sys.modules, "ua_parser", None)

    change = ask(logged_in)

    assert (change.requested_browser, change.requested_os) == ("", "")
    assert_says(mailoutbox[0], "from the IP address 27.34.1.2, using an unknown browser.")


# The time


def test_the_time_is_in_the_users_time_zone_when_the_host_knows_it(
    ve_settings, logged_in, mailoutbox
):
    ve_settings(USER_TIME_ZONE="tests.test_request_context.kathmandu")

    ask(logged_in)

    # Kathmandu is UTC+05:45.
    assert_says(
        mailoutbox[0], "This was requested on Sunday 29 November 2026, 16:27 Asia/Kathmandu"
    )


def test_the_time_zone_can_be_an_attribute_of_the_user(ve_settings, logged_in, user, mailoutbox):
    ve_settings(USER_TIME_ZONE="time_zone_name")
    type(user).time_zone_name = "America/New_York"
    try:
        flows.request_change(
            user,
            "alice.new@example.com",
            PASSWORD,
            base_url=BASE_URL,
            context=RequestContext(ip="27.34.1.2", browser="Firefox", os="Android"),
        )
    finally:
        del type(user).time_zone_name

    assert_says(mailoutbox[0], "on Sunday 29 November 2026, 05:42 America/New_York from")


@pytest.mark.parametrize("source", ["no_zone", "unknown_zone"])
def test_no_or_an_unknown_time_zone_is_utc(ve_settings, logged_in, mailoutbox, source):
    ve_settings(USER_TIME_ZONE=f"tests.test_request_context.{source}")

    ask(logged_in)

    assert_says(mailoutbox[0], SENTENCE)


def test_the_context_is_written_in_nepali(ve_settings, user, mailoutbox):
    with translation.override("ne"):
        flows.request_change(
            user,
            "alice.new@example.com",
            PASSWORD,
            base_url=BASE_URL,
            context=RequestContext(ip="27.34.1.2", browser="Firefox", os="Android"),
        )

    text, html = bodies(mailoutbox[0])
    for body in (text, html):
        assert "IP ठेगाना 27.34.1.2 बाट Android मा Firefox प्रयोग गरेर गरिएको थियो।" in body


def test_the_worker_reads_the_context_from_the_row(ve_settings, user, mailoutbox):
    """What the emails say is what the row holds when the message is built."""
    flows.request_change(
        user,
        "alice.new@example.com",
        PASSWORD,
        base_url=BASE_URL,
        context=RequestContext(ip="27.34.1.2", browser="Firefox", os="Android"),
    )
    change = EmailChange.objects.get()
    flows.confirm_change(token_in(mailoutbox[0]), base_url=BASE_URL)
    EmailChange.objects.filter(pk=change.pk).update(requested_ip="192.0.2.1")
    flows.confirm_change(token_in(mailoutbox[1]), base_url=BASE_URL)

    [notice] = [m for m in mailoutbox if links_in(m, REVERT_PAGE)]
    assert "from the IP address 192.0.2.1, using Firefox on Android." in notice.body


# Deny and revert: the request that refused the change

REFUSED_WHEN = "Sunday 29 November 2026, 11:42 UTC"
DONE = f"This was done on {REFUSED_WHEN} from the IP address 198.51.100.7, using Chrome on Windows."
REFUSER = {"REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": CHROME_WINDOWS}


def refused_context(change):
    change.refresh_from_db()
    return change.refused_ip, change.refused_browser, change.refused_os


def assert_kept_from_the_leak(message):
    """The unproved new address of a deny: most likely the requester's own."""
    for body in bodies(message):
        for word in ("198.51.100.7", "Chrome", "Windows", "This was done"):
            assert word not in body


def test_a_deny_names_where_it_came_from_to_the_old_address_only(
    ve_settings, logged_in, client, mailoutbox
):
    change = ask(logged_in)
    confirm_old = link_path(mailoutbox[0])

    with later(3600):
        response = client.post(confirm_old, {"deny": "1"}, **REFUSER)

    assert response.status_code == 200, response.content
    assert refused_context(change) == ("198.51.100.7", "Chrome", "Windows")
    [_, to_old, to_new] = mailoutbox
    assert to_old.to == ["alice@example.com"]
    assert_says(to_old, DONE)
    text, _ = bodies(to_old)
    assert f"\n\n{DONE}\n\n" in text
    assert to_new.to == ["alice.new@example.com"]
    assert_kept_from_the_leak(to_new)


def reverted(client, logged_in, mailoutbox):
    """Alice's address was changed (from Firefox); she says "this wasn't me" from Chrome."""
    change = ask(logged_in)
    client.post(link_path(mailoutbox[0]))
    client.post(link_path(mailoutbox[1]))
    [notice] = [m for m in mailoutbox if links_in(m, REVERT_PAGE)]
    mailoutbox.clear()
    with later(3600):
        response = client.post(
            revert_path(revert_token_in(notice)), {"password": PASSWORD}, **REFUSER
        )
    assert response.status_code == 200, response.content
    return change


def test_a_revert_names_where_it_came_from_to_both_addresses(
    ve_settings, logged_in, client, mailoutbox
):
    change = reverted(client, logged_in, mailoutbox)

    assert refused_context(change) == ("198.51.100.7", "Chrome", "Windows")
    [discarded] = [m for m in mailoutbox if m.to == ["alice.new@example.com"]]
    [restored] = [m for m in mailoutbox if m.to == ["alice@example.com"]]
    # The discarded address proved itself for the account: if the change was
    # its owner's, someone else said "this wasn't me", and this says who.
    assert_says(discarded, DONE)
    assert_says(restored, DONE)
    # Not the request that started the change: that one was not the refusal.
    assert "Firefox" not in discarded.body
    for message in mailoutbox:
        assert "\n\n\n" not in message.body


def test_the_revert_notice_writes_its_time_as_the_context_does(
    ve_settings, logged_in, client, mailoutbox
):
    ve_settings(USER_TIME_ZONE="tests.test_request_context.kathmandu")

    reverted(client, logged_in, mailoutbox)

    [discarded] = [m for m in mailoutbox if m.to == ["alice.new@example.com"]]
    assert_says(discarded, "On Sunday 29 November 2026, 17:27 Asia/Kathmandu, the")


def test_a_deny_or_revert_outside_a_request_says_nothing_of_one(ve_settings, user, mailoutbox):
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
    flows.confirm_deny(token_in(mailoutbox[0]), base_url=BASE_URL)

    change = EmailChange.objects.get()
    assert refused_context(change) == (None, None, "")
    for message in mailoutbox[1:]:
        text, html = bodies(message)
        assert "This was done" not in text
        assert "This was done" not in html
        assert "\n\n\n" not in text


def test_the_refusal_honours_the_ip_off_switch(ve_settings, logged_in, client, mailoutbox):
    ve_settings(CAPTURE_IP=False)
    change = ask(logged_in)

    with later(3600):
        client.post(link_path(mailoutbox[0]), {"deny": "1"}, **REFUSER)

    assert refused_context(change) == (None, "Chrome", "Windows")
    assert_says(mailoutbox[1], f"This was done on {REFUSED_WHEN}, using Chrome on Windows.")
    assert "198.51.100.7" not in mailoutbox[1].body


def test_a_spoofed_x_forwarded_for_is_ignored_on_a_refusal(
    ve_settings, logged_in, client, mailoutbox
):
    change = ask(logged_in)

    client.post(link_path(mailoutbox[0]), {"deny": "1"}, HTTP_X_FORWARDED_FOR="6.6.6.6", **REFUSER)

    assert refused_context(change)[0] == "198.51.100.7"
    assert "6.6.6.6" not in mailoutbox[1].body


def test_the_refusal_is_written_in_nepali(ve_settings, user, mailoutbox):
    flows.request_change(user, "alice.new@example.com", PASSWORD, base_url=BASE_URL)
    with translation.override("ne"):
        flows.confirm_deny(
            token_in(mailoutbox[0]),
            base_url=BASE_URL,
            context=RequestContext(ip="27.34.1.2", browser="Firefox", os="Android"),
        )

    [to_old] = [m for m in mailoutbox[1:] if m.to == ["alice@example.com"]]
    assert_says(to_old, "यो काम आइतवार 29 नभम्वर 2026, 10:42 UTC मा IP ठेगाना 27.34.1.2 बाट")
    assert_says(to_old, "बाट Android मा Firefox प्रयोग गरेर गरिएको थियो।")
