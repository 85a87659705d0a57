"""Where a request came from, for the emails that ask "was this me?".

A front end captures a ``RequestContext`` when a request starts a change
(``web.request_context``), and again when the old address refuses it (a deny
or a revert, "this wasn't me"); the flow stores it on the ``EmailChange``
row (``requested_*``, ``refused_*``), and the emails read it back from the
row when they are built, in the request or in a worker. Task arguments never
carry it.

What is kept is already reduced: the client's IP address, and the browser and
operating system families the User-Agent names ("Firefox", "Android"), never
the User-Agent itself, and only names of a fixed vocabulary (``BROWSERS``,
``SYSTEMS``): the header is the client's to write. The time is the row's own (``created_at``), so no
second clock is stored; that of a refusal is ``closed_at`` (a deny) or
``reverted_at`` (a revert).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import formats
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from .conf import app_settings

logger = logging.getLogger("django_verified_email")

#: Longest User-Agent handed to the parser: its rules are regular
#: expressions, and a client chooses the header's length.
MAX_USER_AGENT = 512
#: Longest browser or system name kept (the model's field length).
MAX_NAME = 64
#: How the time is written out: "Sunday 29 November 2026, 10:42", in the
#: active language's day and month names, followed by the zone's name.
WHEN_FORMAT = "l j F Y, H:i"


@dataclass(frozen=True)
class RequestContext:
    """What a request tells about where it came from.

    ``ip`` is None when it is not captured (``CAPTURE_IP`` off) or not known;
    ``browser`` and ``os`` are "" when the User-Agent names none (or no parser
    is installed).
    """

    ip: str | None = None
    browser: str = ""
    os: str = ""


def capture(meta: Mapping[str, Any]) -> RequestContext:
    """Return the context of a request from its ``META``."""
    ip = client_ip(meta) if app_settings.CAPTURE_IP else None
    browser, os = describe_user_agent(meta.get("HTTP_USER_AGENT") or "")
    return RequestContext(ip=ip, browser=browser, os=os)


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """Return the client's IP address, or None when it cannot be trusted or read.

    Without ``CLIENT_IP_HEADER`` it is ``REMOTE_ADDR``, the peer of the
    connection. ``X-Forwarded-For`` and its like are written by whoever sends
    the request, so they are read only when the host names one: the host says
    then that a proxy it runs sets that header. Each proxy appends the address
    it received the request from, so of a comma-separated list only the entry
    ``CLIENT_IP_PROXY_COUNT`` places from the right was written by the host's
    own proxies; every entry left of it may be forged by the client.
    """
    header = app_settings.CLIENT_IP_HEADER
    if not header:
        return _valid_ip(meta.get("REMOTE_ADDR"))
    # "X-Forwarded-For" or its META key, "HTTP_X_FORWARDED_FOR".
    key = header.upper().replace("-", "_")
    value = meta.get(key if key.startswith("HTTP_") else "HTTP_" + key)
    if not value:
        logger.debug("No client IP address: the request has no %s header", header)
        return None
    hops = [hop.strip() for hop in str(value).split(",")]
    count = app_settings.CLIENT_IP_PROXY_COUNT
    if len(hops) < count:
        # Fewer entries than proxies: the request did not come through them all.
        logger.debug("No client IP address: %s has fewer entries than proxies", header)
        return None
    return _valid_ip(hops[-count])


def _valid_ip(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip().removeprefix("[").removesuffix("]")))
    except ValueError:
        logger.debug("No client IP address: not an IP address")
        return None


#: What is kept, as the browser, of a client ua-parser knows as a bot: the
#: emails say "an automated client".
AUTOMATED = "automated"

# The User-Agent is written by whoever sends the request, and ua-parser's
# rules copy parts of it into the names they return (a bot's rule takes the
# words before "Bot", "crawler"...). An intruder would then write the
# sentence the owner reads in the "was this me?" email ("...using This was
# you on your iPhone no action needed"). So the emails name only the
# families below, taken from ua-parser's own vocabulary (the names its rules
# give); any other name is "an unknown browser".
BROWSERS = frozenset(
    {
        "Amazon Silk",
        "Android",
        "Apple Mail",
        "Avast Secure Browser",
        "Baidu Browser",
        "Brave",
        "Chrome",
        "Chrome Mobile",
        "Chrome Mobile WebView",
        "Chrome Mobile iOS",
        "Chromium",
        "Coc Coc",
        "DuckDuckGo",
        "DuckDuckGo Mobile",
        "Edge",
        "Edge Mobile",
        "Electron",
        "Facebook",
        "Firefox",
        "Firefox Beta",
        "Firefox Focus",
        "Firefox Mobile",
        "Firefox iOS",
        "Huawei Browser",
        "IE",
        "IE Mobile",
        "Instagram",
        "KakaoTalk",
        "Konqueror",
        "LINE",
        "Maxthon",
        "MiuiBrowser",
        "Mobile Safari",
        "Mobile Safari UI/WKWebView",
        "Oculus Browser",
        "Opera",
        "Opera GX",
        "Opera Mini",
        "Opera Mobile",
        "Opera Touch",
        "Outlook",
        "Pale Moon",
        "QQ Browser",
        "Safari",
        "Sailfish Browser",
        "Samsung Internet",
        "SeaMonkey",
        "Telegram",
        "Thunderbird",
        "Tizen Browser",
        "UC Browser",
        "Vivaldi",
        "Waterfox",
        "WeChat Browser",
        "Whale",
        "Yandex Browser",
    }
)
SYSTEMS = frozenset(
    {
        "Android",
        "BlackBerry OS",
        "Chrome OS",
        "Debian",
        "Fedora",
        "Firefox OS",
        "FreeBSD",
        "HarmonyOS",
        "KaiOS",
        "Linux",
        "Mac OS",
        "Mac OS X",
        "OpenBSD",
        "Red Hat",
        "Symbian OS",
        "Tizen",
        "Ubuntu",
        "WatchOS",
        "Windows",
        "Windows Mobile",
        "Windows Phone",
        "iOS",
        "iPadOS",
        "tvOS",
        "webOS",
    }
)
# Clients that are programs, not a person's browser, which ua-parser does
# not put in its "Spider" device family.
PROGRAMS = frozenset(
    {
        "Apache-HttpClient",
        "Go-http-client",
        "HTTPClient",
        "HeadlessChrome",
        "Java",
        "PhantomJS",
        "Python Requests",
        "Python aiohttp",
        "Python-urllib",
        "Wget",
        "curl",
        "okhttp",
    }
)


def describe_user_agent(user_agent: str) -> tuple[str, str]:
    """Return the browser and operating system a User-Agent names, "" for unknown.

    Parsed by ``ua-parser`` (the ``[devices]`` extra), whose rules are kept up
    to date by its maintainers; without it, both are unknown. Only names of
    ``BROWSERS`` and ``SYSTEMS`` are returned; a bot or a program gives
    ``AUTOMATED`` as its browser.
    """
    try:
        from ua_parser import parse
    except ImportError:
        return "", ""
    if not user_agent:
        return "", ""
    result = parse(user_agent[:MAX_USER_AGENT])
    browser = _family(result.user_agent)
    if _family(result.device) == "Spider" or browser in PROGRAMS:
        return AUTOMATED, ""
    return _known(browser, BROWSERS), _known(_family(result.os), SYSTEMS)


def _family(part: Any) -> str:
    # ua-parser says "Other" for what its rules do not know.
    family = getattr(part, "family", None) or ""
    return "" if family == "Other" else family[:MAX_NAME]


def _known(name: str, vocabulary: frozenset[str]) -> str:
    return name if name in vocabulary else ""


@dataclass(frozen=True)
class EmailRequestContext:
    """The ``request_context`` an email template gets (docs/templates.md)."""

    #: When the request was made, in the user's time zone.
    when: datetime
    #: That time written out, with the zone's name: "Sunday 29 November 2026, 10:42 UTC".
    when_text: str
    #: The zone's name ("UTC", "Asia/Kathmandu").
    time_zone: str
    #: The client's IP address, or None when not captured.
    ip: str | None
    #: The browser and operating system families, "" for unknown.
    browser: str
    os: str

    @property
    def device(self) -> str:
        """The browser and system in words: "Firefox on Android", "an unknown browser"."""
        if self.browser == AUTOMATED:
            return gettext("an automated client")
        # Filtered again here: a row may hold a name captured before the
        # vocabulary applied.
        browser, os = _known(self.browser, BROWSERS), _known(self.os, SYSTEMS)
        # ua-parser names Android's own browser after the system: "Android".
        if browser and os and browser != os:
            return gettext("%(browser)s on %(os)s") % {"browser": browser, "os": os}
        if browser:
            return browser
        if os:
            return gettext("an unknown browser on %(os)s") % {"os": os}
        return gettext("an unknown browser")


def refused_fields(context: RequestContext | None) -> dict[str, object]:
    """Return the ``EmailChange`` fields that keep where a refusal came from."""
    if context is None:
        return {}
    return {"refused_ip": context.ip, "refused_browser": context.browser, "refused_os": context.os}


def for_email(change: Any, user: Any) -> EmailRequestContext | None:
    """Return what an email says about the request that started ``change``.

    None when the row has no context: started outside a request (a shell, a
    command), before this was recorded, or scrubbed by the purge.
    """
    if change is None or change.requested_browser is None:
        return None
    return _for_email(
        user, change.created_at, change.requested_ip, change.requested_browser, change.requested_os
    )


def refusal_for_email(change: Any, user: Any) -> EmailRequestContext | None:
    """Return what an email says about the request that refused ``change`` (deny, revert).

    None as ``for_email``, and while nothing refused the change.
    """
    if change is None or change.refused_browser is None:
        return None
    # A scheduled revert was asked for when it was scheduled, not when it completed.
    when = change.revert_scheduled_at or change.reverted_at or change.closed_at
    if when is None:
        return None
    return _for_email(user, when, change.refused_ip, change.refused_browser, change.refused_os)


def _for_email(
    user: Any, moment: datetime, ip: str | None, browser: str, os: str
) -> EmailRequestContext:
    zone = user_time_zone(user)
    when = moment.astimezone(zone)
    return EmailRequestContext(
        when=when,
        when_text=when_text(moment, user, zone=zone),
        time_zone=zone.key,
        ip=ip,
        browser=browser,
        os=os,
    )


def when_text(moment: datetime, user: Any, *, zone: ZoneInfo | None = None) -> str:
    """Return ``moment`` written out in the user's time zone, with its name.

    "Sunday 29 November 2026, 10:42 UTC": every time a security email names
    is written this way (``WHEN_FORMAT``).
    """
    zone = zone or user_time_zone(user)
    return f"{formats.date_format(moment.astimezone(zone), WHEN_FORMAT)} {zone.key}"


UTC = ZoneInfo("UTC")


def user_time_zone(user: Any) -> ZoneInfo:
    """Return the user's time zone as ``USER_TIME_ZONE`` finds it, else UTC.

    The setting names an attribute of the user (``"time_zone"``) or, with a
    dot, a function that takes the user (``"accounts.zones.of_user"``); either
    gives an IANA zone name. It is read when the email is built, by a worker
    in the task modes: it must not need the request.
    """
    source = app_settings.USER_TIME_ZONE
    if not source:
        return UTC
    name = import_string(source)(user) if "." in source else getattr(user, source, None)
    if isinstance(name, ZoneInfo):
        return name
    if not name:
        return UTC
    try:
        return ZoneInfo(str(name))
    # A directory of the zone database ("America") is an OSError on some versions.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        logger.debug("Unknown time zone for user %s: using UTC", getattr(user, "pk", None))
        return UTC
